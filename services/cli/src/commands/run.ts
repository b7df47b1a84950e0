// `delta run <pipeline.yaml>`: checks the pipeline, creates the run folder (runs/<run id>/) and
// drives generate -> pair -> train -> evaluate -> report over gRPC, starting a local stack when
// no services answer. With --detach the driver goes on in the background and the run id is
// printed; with --run-id of an existing run it continues that run.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { getTask, taskNames } from '@delta/evals';

import { CliError, type Command, type CommandIo } from '../command.js';
import { RunError } from '../errors.js';
import { readPipeline, type TaskCatalog } from '../pipeline/parse.js';
import { resolvePaths } from '../pipeline/world.js';
import { assertNotDriven, detach, driveHere, type LaunchOptions } from '../run/launch.js';
import { initialStages, newRunId, RunStore, runsDir } from '../run/state.js';
import { resolveAddresses } from '../services.js';
import { stackDir } from '../stack/stack.js';
import {
  addressFlags, FOLDER_OPTIONS, onePositional, parse, secondsOption, SERVICE_OPTIONS, SHARED_USAGE,
} from './options.js';

const USAGE = `usage: delta run <pipeline.yaml> [options]

Runs a pipeline: generate -> pair -> train -> evaluate -> report, each stage a job on its
service. Starts a local stack (Kafka and the four services) when none answers, and stops it at
the end unless --keep-stack. Prints one JSON object on stdout: run id, folder, state, report.

  --run-id <id>              name the run (default <pipeline name>-<time>-<random>); an id of
                             an existing run continues it, skipping finished stages
  --detach                   drive the run in the background; print its id and return
  --keep-stack               leave a stack this run started running
  --reconnect-seconds <n>    how long a service may be unreachable before the run stops
                             (default 120)
${SHARED_USAGE}`;

/** Shared by `run` and `resume`: options that shape a driver. */
export const DRIVER_OPTIONS = {
  ...FOLDER_OPTIONS, ...SERVICE_OPTIONS,
  'keep-stack': { type: 'boolean' },
  'reconnect-seconds': { type: 'string' },
} as const;

/** The command module for `delta run`. */
export const runCommand: Command = {
  words: ['run'],
  summary: 'run a pipeline file end to end (starts a local stack if needed)',
  usage: USAGE,
  run,
};

/** Task names and built-in data, from @delta/evals (the evaluator serves the same registry). */
export const evalsCatalog: TaskCatalog = {
  names: () => taskNames(),
  hasBuiltin: (name) => Boolean(getTask(name).loadBuiltin),
};

/** LaunchOptions from the parsed driver options. */
export function launchOptions(values: Record<string, unknown>, io: CommandIo): LaunchOptions {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const brokers = (values.brokers as string | undefined) || env.DELTA_KAFKA_BROKERS;
  return {
    io,
    runsDir: runsDir(values['runs-dir'] as string | undefined, env, cwd),
    stackDir: stackDir(values['stack-dir'] as string | undefined, env, cwd),
    flags: addressFlags(values),
    ...(brokers ? { brokers } : {}),
    keepStack: Boolean(values['keep-stack']),
    reconnectMs: secondsOption(values['reconnect-seconds'], 'reconnect-seconds', 120),
  };
}

/** The options a background driver is given, so it finds the same folders and services. */
export function forwardedOptions(o: LaunchOptions): string[] {
  const out = ['--runs-dir', o.runsDir, '--stack-dir', o.stackDir,
    '--reconnect-seconds', String(Math.round(o.reconnectMs / 1000))];
  for (const [name, address] of Object.entries(o.flags)) out.push(`--${name}`, address);
  if (o.brokers) out.push('--brokers', o.brokers);
  if (o.keepStack) out.push('--keep-stack');
  return out;
}

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parse(args, {
    ...DRIVER_OPTIONS, 'run-id': { type: 'string' }, detach: { type: 'boolean' },
  });
  const file = onePositional(positionals, 'pipeline file');
  const cwd = io.cwd ?? process.cwd();
  const options = launchOptions(values, io);
  const pipeline = readPipeline(path.resolve(cwd, file), { cwd, tasks: evalsCatalog });

  const runId = values['run-id'] ?? newRunId(pipeline.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/u.test(runId)) {
    throw new CliError(`--run-id: "${runId}" is not a run id (letters, digits, ".", "_", "-")`);
  }
  const dir = path.join(options.runsDir, runId);
  let store: RunStore;
  if (existsSync(path.join(dir, 'state.json'))) {
    store = RunStore.open(dir);
    const same = (p: unknown) =>
      JSON.stringify(p, (key, v: unknown) => (key === 'where' ? undefined : v));
    if (same(store.state.pipeline) !== same(pipeline)) {
      throw new RunError('STATE', `run ${runId} was started from another pipeline (or this one ` +
        `changed since); give a new --run-id, or continue it as it was: delta resume ${runId}`);
    }
    assertNotDriven(store.state);
    io.stderr(`continuing run ${runId}\n`);
  } else {
    const now = new Date().toISOString();
    const env = io.env ?? process.env;
    const given = resolveAddresses(options.flags, env);
    store = RunStore.create(dir, {
      version: 1, runId, createdAt: now, updatedAt: now, state: 'running', pipeline,
      ...(pipeline.world ? {} : { paths: resolvePaths(pipeline) }),
      addresses: given.addresses, remote: given.explicit,
      stages: initialStages(Boolean(pipeline.world)),
    });
  }

  if (values.detach) return detach(store, options, forwardedOptions(options));
  return driveHere(store, options);
}
