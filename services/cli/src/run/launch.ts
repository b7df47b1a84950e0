// Runs the driver of a run: here, with progress on stderr and the services found or started
// (session.ts), or detached in a background process whose output goes to the run's driver.log.
// `delta run` and `delta resume` share it; only one driver may drive a run at a time.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { CommandIo } from '../command.js';
import { RunError } from '../errors.js';
import { pipelineFolders } from '../pipeline/world.js';
import { createProgress } from '../progress/progress.js';
import type { ServiceName } from '../services.js';
import { isAlive } from '../stack/processes.js';
import { driveRun } from './driver.js';
import { openSession } from './session.js';
import type { RunState, RunStore } from './state.js';

/** Settings of a driver, from the command line. */
export interface LaunchOptions {
  io: CommandIo;
  runsDir: string;
  stackDir: string;
  flags: Partial<Record<ServiceName, string>>;
  brokers?: string;
  keepStack: boolean;
  reconnectMs: number;
  /** This process was started by `delta run --detach`. */
  detached?: boolean;
}

/** Whether another process drives the run now (this process does not count). */
export function otherDriver(state: RunState): number | undefined {
  const d = state.driver;
  if (!d || d.pid === process.pid) return undefined;
  if (state.state !== 'running') return undefined;
  return isAlive(d.pid, d.marker) ? d.pid : undefined;
}

/** Refuses to drive a run that another live process drives. */
export function assertNotDriven(state: RunState): void {
  const pid = otherDriver(state);
  if (pid !== undefined) {
    throw new RunError('STATE', `run ${state.runId} is being driven by process ${pid}; follow ` +
      `it with \`delta watch ${state.runId}\` (or stop that process first)`);
  }
}

/** The result line a finished driver prints on stdout. */
function result(store: RunStore): string {
  const s = store.state;
  return JSON.stringify({ run_id: s.runId, run_dir: store.dir, state: s.state,
    ...(s.report ? { report: s.report } : {}) }) + '\n';
}

/** Drives the run in this process; resolves to the exit code (130 when interrupted). */
export async function driveHere(store: RunStore, o: LaunchOptions): Promise<number> {
  assertNotDriven(store.state);
  const { io } = o;
  const env = o.io.env ?? process.env;
  const progress = createProgress({
    write: io.stderr, isTty: io.stderrIsTty ?? false, ...(io.columns ? { columns: io.columns } : {}),
  });
  const signal = io.signal ?? new AbortController().signal;
  store.update((s) => {
    s.driver = { pid: process.pid, startedAt: new Date().toISOString(), detached: o.detached ?? false,
      marker: path.basename(process.argv[1] ?? '') };
  });
  progress.note(`run ${store.state.runId} (${path.relative(o.io.cwd ?? process.cwd(), store.dir) ||
    store.dir})`);

  const state = store.state;
  const session = await openSession({
    flags: o.flags, env, stackDir: o.stackDir, roots: [o.runsDir, ...pipelineFolders(state.pipeline)],
    ...(o.brokers ? { brokers: o.brokers } : {}),
    ...(state.remote ? { remembered: state.addresses } : {}),
    keepStack: o.keepStack, log: (line) => progress.note(line),
  }).catch((err: unknown) => {
    progress.close();
    store.update((s) => {
      s.state = 'failed';
      s.error = (err as Error).message;
    });
    throw err;
  });
  store.update((s) => {
    s.addresses = session.addresses;
    s.remote = session.remote;
    if (session.stack) s.stack = session.stack;
  });

  try {
    await driveRun({
      store, clients: session.clients, progress, signal, reconnectMs: o.reconnectMs,
      ...(session.ensureTopics ? { ensureTopics: session.ensureTopics } : {}),
    });
  } finally {
    progress.close();
    await session.close();
  }

  const s = store.state;
  if (s.state === 'interrupted') {
    io.stderr(`run ${s.runId} interrupted; its jobs go on in the services (unless a stack this ` +
      `run started was stopped). Continue with: delta resume ${s.runId}\n`);
    io.stdout(result(store));
    return 130;
  }
  if (s.report) io.stderr(`report: ${s.report.html}\n        ${s.report.markdown}\n`);
  io.stdout(result(store));
  return s.state === 'succeeded' ? 0 : 1;
}

/** The built bin.js: beside this module's folder when built, else the package's dist/. */
function binPath(): string {
  const built = fileURLToPath(new URL('../bin.js', import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
}

/**
 * Starts `delta resume <run folder>` in a background process detached from this one, output
 * in <run>/driver.log; prints the run id. `forward` are options the driver needs too.
 */
export function detach(store: RunStore, o: LaunchOptions, forward: string[]): number {
  const bin = binPath();
  if (!existsSync(bin)) {
    throw new RunError('STATE', `${bin} not found; build the CLI first (npx nx build @delta/cli)`);
  }
  const log = path.join(store.dir, 'driver.log');
  const fd = openSync(log, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [bin, 'resume', store.dir, '--background', ...forward], {
      detached: true, stdio: ['ignore', fd, fd], env: { ...(o.io.env ?? process.env) },
      cwd: o.io.cwd ?? process.cwd(),
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  if (!pid) throw new RunError('STATE', 'could not start the background driver');
  // The driver records itself in state.json; writing here too could undo its first updates.
  o.io.stderr(`run ${store.state.runId} goes on in the background (pid ${pid}, log ${log}).\n` +
    `Follow it: delta watch ${store.state.runId}    Check it: delta status ${store.state.runId}\n`);
  o.io.stdout(JSON.stringify({ run_id: store.state.runId, run_dir: store.dir, driver_pid: pid,
    log }) + '\n');
  return 0;
}
