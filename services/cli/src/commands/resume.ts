// `delta resume <run>`: continues a run from its state.json - reattaches to the jobs in flight
// (the services keep them), starts again those that failed, and runs the stages not done.
// A run that already succeeded only prints where its report is.
import { type Command, type CommandIo } from '../command.js';
import { driveHere } from '../run/launch.js';
import { runFolder, RunStore } from '../run/state.js';
import { onePositional, parse, SHARED_USAGE } from './options.js';
import { DRIVER_OPTIONS, launchOptions } from './run.js';

const USAGE = `usage: delta resume <run id | run folder> [options]

Continues a run where it stopped: finished stages are skipped, jobs in flight are followed
again, failed jobs are started again. The services found are those the run used, unless flags
name others. Prints one JSON object on stdout, as \`delta run\` does.

  --keep-stack               leave a stack this command started running
  --reconnect-seconds <n>    how long a service may be unreachable (default 120)
${SHARED_USAGE}`;

/** The command module for `delta resume`. */
export const resumeCommand: Command = {
  words: ['resume'],
  summary: 'continue a run that stopped (or reattach after a restart)',
  usage: USAGE,
  run,
};

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parse(args, { ...DRIVER_OPTIONS, background: { type: 'boolean' } });
  const options = launchOptions(values, io);
  const store = RunStore.open(runFolder(onePositional(positionals, 'run id'), options.runsDir));
  if (store.state.state === 'succeeded' && store.state.report) {
    io.stderr(`run ${store.state.runId} already succeeded; report: ${store.state.report.html}\n`);
    io.stdout(JSON.stringify({ run_id: store.state.runId, run_dir: store.dir, state: 'succeeded',
      report: store.state.report }) + '\n');
    return 0;
  }
  return driveHere(store, { ...options, detached: Boolean(values.background) });
}
