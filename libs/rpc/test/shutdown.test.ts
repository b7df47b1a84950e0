// Graceful shutdown: health turns NOT_SERVING, new calls are refused, in-flight calls finish
// within the grace period (or are cancelled after it), then the shutdown hooks run.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GeneratorService } from '@delta/contracts';
import { Code, checkHealth, createClient, createServer, implement } from '@delta/rpc';

function slowGenerator(ms: number, finished: string[]) {
  return implement(GeneratorService, {
    async startGeneration() {
      return {};
    },
    async *watchGeneration() {},
    async getGeneration(request, ctx) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      });
      finished.push(request.jobId);
      return { job: { meta: { jobId: request.jobId } } };
    },
    async cancelGeneration() {
      return {};
    },
  });
}

describe('graceful shutdown', () => {
  it('lets an in-flight call finish, refuses new ones, then runs the hooks', async () => {
    const finished: string[] = [];
    const server = await createServer({
      services: [slowGenerator(500, finished)],
      shutdownGraceMs: 5_000,
    });
    const events: string[] = [];
    server.onShutdown('checkpoint', (reason) => {
      events.push(`checkpoint:${reason}:${finished.length}`);
    });
    server.onShutdown('broken', () => {
      throw new Error('disk full');
    });
    const client = createClient(GeneratorService, server.address);
    await client.waitForReady();

    const inFlight = client.getGeneration({ jobId: 'in-flight' });
    await expect.poll(() => server.inFlight).toBe(1);
    const report = server.shutdown('SIGTERM');
    const late = await client.getGeneration({ jobId: 'late' }).catch((e) => e);

    expect((await inFlight).job?.meta?.jobId).toBe('in-flight');
    expect(late).toMatchObject({ code: Code.UNAVAILABLE });
    const result = await report;
    expect(result.cancelledCalls).toBe(0);
    expect(events).toEqual(['checkpoint:SIGTERM:1']);
    expect(result.hookErrors.map((h) => [h.name, (h.error as Error).message])).toEqual([
      ['broken', 'disk full'],
    ]);
    expect(finished).toEqual(['in-flight']);
    client.close();
  });

  it('reports NOT_SERVING while draining, and cancels calls past the grace period', async () => {
    const server = await createServer({
      services: [slowGenerator(10_000, [])],
      shutdownGraceMs: 300,
    });
    const client = createClient(GeneratorService, server.address);
    const pending = client.getGeneration({ jobId: 'long' }).catch((e) => e);
    await expect.poll(() => server.inFlight).toBe(1);
    const done = server.shutdown();
    const health = await checkHealth(server.address).catch((e) => e);
    // While draining, health answers NOT_SERVING (or the listener is already gone).
    expect(health === 'NOT_SERVING' || health.code === Code.UNAVAILABLE).toBe(true);
    expect((await done).cancelledCalls).toBe(1);
    expect(await pending).toMatchObject({ code: expect.any(Number) });
    client.close();
  });

  it('on SIGTERM finishes the in-flight call, runs the hooks and exits 0', async () => {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const fixture = fileURLToPath(new URL('./fixtures/signal-server.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=@delta/source', '--import', tsx, fixture],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await expect.poll(() => /listening (\S+)/.exec(out), { timeout: 30_000 }).toBeTruthy();
    const address = /listening (\S+)/.exec(out)![1]!;

    const client = createClient(GeneratorService, address);
    const inFlight = client.getGeneration({ jobId: 'during-sigterm' });
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');

    expect((await inFlight).job?.meta?.jobId).toBe('during-sigterm');
    expect(await exited).toBe(0);
    expect(out).toContain('checkpoint');
    client.close();
  });
});
