// The stack's process handling: a process is stopped with SIGTERM and, when it ignores that,
// with SIGKILL after the grace period; a recorded pid running another command is never ours.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';

import { isAlive, portFor, stopProcess } from '../src/stack/processes.js';

/** A node process running `script`; resolves once the script has run (it prints "ready"). */
function child(script: string) {
  const proc = spawn(process.execPath, ['-e', `${script}; console.log('ready')`,
    'delta-test-marker'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise<number>((resolve) => proc.stdout.once('data', () => resolve(proc.pid!)));
}

describe('stopping a process', () => {
  it('ends one that honours SIGTERM within the grace period', async () => {
    const pid = await child('setInterval(() => {}, 1000)');
    expect(isAlive(pid, 'delta-test-marker')).toBe(true);
    const stopped = await stopProcess(pid, 'delta-test-marker', 5_000);
    expect(stopped.how).toBe('SIGTERM');
    expect(isAlive(pid, 'delta-test-marker')).toBe(false);
  });

  it('kills one that ignores SIGTERM once the grace period is over', async () => {
    const pid = await child("process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)");
    const stopped = await stopProcess(pid, 'delta-test-marker', 500);
    expect(stopped.how).toBe('SIGKILL');
    expect(stopped.seconds).toBeGreaterThanOrEqual(0.5);
    expect(isAlive(pid, 'delta-test-marker')).toBe(false);
  });

  it('leaves alone a pid whose command line is not the recorded one', async () => {
    const pid = await child('setInterval(() => {}, 1000)');
    expect(isAlive(pid, 'some-other-command')).toBe(false);
    expect(await stopProcess(pid, 'some-other-command', 100))
      .toEqual({ how: 'not running', seconds: 0 });
    expect(isAlive(pid, 'delta-test-marker')).toBe(true);
    process.kill(pid, 'SIGKILL');
  });
});

describe('choosing a port', () => {
  it('takes the preferred port when free, another one when it is taken', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const taken = (server.address() as { port: number }).port;
    const other = await portFor(taken);
    expect(other).not.toBe(taken);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await portFor(taken)).toBe(taken);
  });
});
