// Background processes of the local stack: start one detached with its output in a log file,
// tell whether a recorded pid is still that process, and stop it (SIGTERM, then SIGKILL after
// a grace period). Only pids this module recorded are ever signalled.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A process started in the background. */
export interface Started {
  pid: number;
  /** Resolves when the process exits while this CLI still runs (a crash at start). */
  exited: Promise<number | string>;
}

/** Starts `command` detached from this process (its own group), output appended to `log`. */
export function startDetached(command: string, args: string[], options: {
  log: string; env: Record<string, string | undefined>; cwd: string;
}): Started {
  const fd = openSync(options.log, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', fd, fd],
    });
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (err) => resolve(err.message));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `pid` is alive and, where /proc exists, still runs a command line containing
 * `marker` (a recorded pid may have been reused by an unrelated process since).
 */
export function isAlive(pid: number | undefined, marker?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' && !marker;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!marker || !existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, 'utf8').split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** What stopping a process took. */
export interface Stopped {
  /** "SIGTERM" when it ended in the grace period, "SIGKILL" when it had to be killed. */
  how: 'not running' | 'SIGTERM' | 'SIGKILL';
  seconds: number;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; only when the pid is still our process. */
export async function stopProcess(pid: number | undefined, marker: string, graceMs: number):
  Promise<Stopped> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  if (!pid || !isAlive(pid, marker)) return { how: 'not running', seconds: 0 };
  process.kill(pid, 'SIGTERM');
  while (Date.now() - started < graceMs) {
    if (!isAlive(pid, marker)) return { how: 'SIGTERM', seconds: seconds() };
    await sleep(100);
  }
  if (isAlive(pid, marker)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  return { how: 'SIGKILL', seconds: seconds() };
}

/** `preferred` when nothing listens on it at 127.0.0.1, else a free port the OS picks. */
export async function portFor(preferred: number): Promise<number> {
  if (preferred > 0 && await canListen(preferred)) return preferred;
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The last `lines` lines of a log file, for an error message; empty when unreadable. */
export function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
