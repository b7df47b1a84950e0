// `delta status <run>`: where a run stands - its stages and jobs from state.json, the jobs still
// in flight asked afresh from their services (when they answer), the driver process, the
// report. Readable text on stdout, or one JSON object with --json. It changes nothing.
import path from 'node:path';

import type { Command, CommandIo } from '../command.js';
import { jobOps, type JobView } from '../run/jobs.js';
import { otherDriver } from '../run/launch.js';
import { readState, runFolder, runsDir, STAGES, type JobEntry, type RunState } from '../run/state.js';
import { clientTls, openClients, type Addresses } from '../services.js';
import { readStackRecord, stackAddresses } from '../stack/stack.js';
import { FOLDER_OPTIONS, onePositional, parse } from './options.js';

const USAGE = `usage: delta status <run id | run folder> [--json] [--runs-dir <dir>]

Prints a run's stages and jobs. Jobs still in flight are asked afresh from their services.
  --json                     one JSON object (state.json with the fresh job states)
`;

/** The command module for `delta status`. */
export const statusCommand: Command = {
  words: ['status'],
  summary: "show a run's stages, jobs and report",
  usage: USAGE,
  run,
};

/** The addresses a run's jobs live at now: a local stack may have restarted on new ports. */
export function currentAddresses(state: RunState): Addresses {
  if (state.stack && !state.remote) {
    const record = readStackRecord(state.stack.dir);
    if (record) return stackAddresses(record);
  }
  return state.addresses;
}

/** Asks the services for the jobs of `state` that have not ended; unanswered ones stay as saved. */
export async function refreshJobs(state: RunState, env: Readonly<Record<string, string | undefined>>):
  Promise<RunState> {
  const open = STAGES.flatMap((stage) => Object.entries(state.stages[stage].jobs)
    .filter(([, j]) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state))
    .map(([name, job]) => ({ stage, name, job })));
  if (open.length === 0) return state;
  const clients = openClients(currentAddresses(state), clientTls(env));
  try {
    await Promise.all(open.map(async ({ stage, name, job }) => {
      const fresh: JobView | undefined = await withTimeout(jobOps(clients, job.service).get(job.jobId),
        3_000).catch(() => undefined);
      if (fresh) state.stages[stage].jobs[name] = { ...job, ...fresh.entry };
    }));
  } finally {
    clients.close();
  }
  return state;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) =>
    setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

function duration(from?: string, to?: string): string {
  if (!from) return '';
  const s = Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function jobLine(name: string, job: JobEntry): string {
  const p = job.progress;
  const amount = p && (p.done || p.total) ? `${p.done}${p.total ? `/${p.total}` : ''} ${p.unit}` : '';
  const note = job.error ? `${job.error.code}: ${job.error.message}` : p?.stage ?? '';
  return `    ${name.padEnd(16)} ${job.state.padEnd(10)} ${amount.padEnd(18)} ${note}`.trimEnd();
}

/** The readable form of a run's state. */
export function describeRun(state: RunState, dir: string, cwd: string): string {
  const driverPid = otherDriver(state);
  const driver = state.driver
    ? `driver pid ${state.driver.pid}${driverPid !== undefined || state.driver.pid === process.pid
      ? ', running' : ', not running'}` : 'no driver yet';
  const lines = [`run ${state.runId}  ${state.state}  (${driver})`,
    `folder ${path.relative(cwd, dir) || dir}`];
  for (const stage of STAGES) {
    const s = state.stages[stage];
    const jobs = Object.entries(s.jobs);
    lines.push(`  ${stage.padEnd(9)} ${s.state.padEnd(8)} ${duration(s.startedAt, s.endedAt)
      .padEnd(12)}${jobs.length ? ` ${jobs.length} job${jobs.length > 1 ? 's' : ''}` : ''}`.trimEnd());
    if (s.state !== 'done' || jobs.some(([, j]) => j.state !== 'SUCCEEDED')) {
      for (const [name, job] of jobs) lines.push(jobLine(name, job));
    }
    if (s.error) lines.push(`    error: ${s.error}`);
  }
  if (state.error && !STAGES.some((st) => state.stages[st].error === state.error)) {
    lines.push(`error: ${state.error}`);
  }
  if (state.report) lines.push(`report: ${state.report.html}`, `        ${state.report.markdown}`);
  else if (state.state === 'interrupted' || (state.state === 'running' && driverPid === undefined &&
    state.driver?.pid !== process.pid)) {
    lines.push(`no driver is running: continue with  delta resume ${state.runId}`);
  }
  return lines.join('\n') + '\n';
}

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parse(args, { ...FOLDER_OPTIONS, json: { type: 'boolean' } });
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const dir = runFolder(onePositional(positionals, 'run id'), runsDir(values['runs-dir'], env, cwd));
  const state = await refreshJobs(readState(dir), env);
  if (values.json) io.stdout(JSON.stringify({ ...state, run_dir: dir }) + '\n');
  else io.stdout(describeRun(state, dir, cwd));
  return 0;
}
