// `delta watch <run>`: follows a run until it ends, with the same progress display as `delta
// run`. While a driver process drives the run it follows state.json, which the driver rewrites
// at every change; when no driver is left it follows the jobs still in flight on their services
// and then says how to continue. It never starts or cancels anything.
import type { Command, CommandIo } from '../command.js';
import { createProgress, type ProgressSink } from '../progress/progress.js';
import { followJob, jobOps } from '../run/jobs.js';
import { otherDriver } from '../run/launch.js';
import { readState, runFolder, runsDir, STAGES, type RunState } from '../run/state.js';
import { clientTls, openClients } from '../services.js';
import { sleep } from '../stack/processes.js';
import { FOLDER_OPTIONS, onePositional, parse, secondsOption } from './options.js';
import { currentAddresses } from './status.js';

const USAGE = `usage: delta watch <run id | run folder> [options]

Follows a run until it ends. Exit code 0 when it succeeded, 1 when it failed, 3 when no
driver is left to finish it (continue it with \`delta resume\`).
  --poll-seconds <n>         how often state.json is read (default 1)
  --runs-dir <dir>           where run folders are (default ./runs, or DELTA_RUNS_DIR)
`;

/** The command module for `delta watch`. */
export const watchCommand: Command = {
  words: ['watch'],
  summary: 'follow a run (started with --detach, or by another terminal) until it ends',
  usage: USAGE,
  run,
};

/** Tells `sink` what changed between two states of a run. */
export function replay(before: RunState | undefined, after: RunState, sink: ProgressSink): void {
  for (const stage of STAGES) {
    const b = before?.stages[stage];
    const a = after.stages[stage];
    if (a.state === 'running' && b?.state !== 'running') sink.stage(stage, 'running');
    for (const [name, job] of Object.entries(a.jobs)) {
      if (JSON.stringify(b?.jobs[name]) !== JSON.stringify(job)) sink.job(stage, name, job);
    }
    if (a.state !== b?.state && (a.state === 'done' || a.state === 'failed')) {
      sink.stage(stage, a.state, a.error);
    }
  }
}

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...FOLDER_OPTIONS, 'poll-seconds': { type: 'string' },
  });
  const env = io.env ?? process.env;
  const dir = runFolder(onePositional(positionals, 'run id'),
    runsDir(values['runs-dir'], env, io.cwd ?? process.cwd()));
  const pollMs = Math.max(200, secondsOption(values['poll-seconds'], 'poll-seconds', 1));
  const signal = io.signal ?? new AbortController().signal;
  const sink = createProgress({ write: io.stderr, isTty: io.stderrIsTty ?? false,
    ...(io.columns ? { columns: io.columns } : {}) });

  // A driver just detached by `delta run --detach` records itself a moment after it starts.
  const waitForDriverUntil = Date.now() + 15_000;
  let last: RunState | undefined;
  try {
    for (;;) {
      const state = readState(dir);
      replay(last, state, sink);
      last = state;
      if (state.state === 'succeeded' || state.state === 'failed') break;
      if (otherDriver(state) === undefined && Date.now() > waitForDriverUntil) {
        await followOrphans(state, env, sink, signal);
        last = readState(dir);
        if (last.state === 'succeeded' || last.state === 'failed') break;
        sink.close();
        io.stderr(`no driver is running run ${state.runId}; continue it with: ` +
          `delta resume ${state.runId}\n`);
        return 3;
      }
      if (signal.aborted) return 130;
      await sleep(pollMs);
    }
  } finally {
    sink.close();
  }
  if (last.error) io.stderr(`run ${last.runId} failed: ${last.error}\n`);
  if (last.report) io.stderr(`report: ${last.report.html}\n`);
  io.stdout(JSON.stringify({ run_id: last.runId, run_dir: dir, state: last.state,
    ...(last.report ? { report: last.report } : {}) }) + '\n');
  return last.state === 'succeeded' ? 0 : 1;
}

/** Follows, straight from the services, the jobs a stopped driver left in flight. */
async function followOrphans(state: RunState, env: Readonly<Record<string, string | undefined>>,
  sink: ProgressSink, signal: AbortSignal): Promise<void> {
  const open = STAGES.flatMap((stage) => Object.entries(state.stages[stage].jobs)
    .filter(([, j]) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state))
    .map(([name, job]) => ({ stage, name, job })));
  if (open.length === 0) return;
  const addresses = currentAddresses(state);
  const clients = openClients(addresses, clientTls(env));
  try {
    sink.note('the driver is gone; following its jobs on the services');
    await Promise.all(open.map(({ stage, name, job }) => followJob(jobOps(clients, job.service),
      job.service, addresses[job.service], job.jobId, { signal, reconnectMs: 10_000,
        onUpdate: (v) => sink.job(stage, name, { ...job, ...v.entry }) }).catch((err: Error) =>
      sink.note(`${stage} ${name}: ${err.message}`))));
  } finally {
    clients.close();
  }
}
