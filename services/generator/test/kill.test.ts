// The built generator as a child process, killed with SIGKILL in the middle of a job and started
// again: the job resumes on its own and the responses topic ends with exactly one record per
// prompt and sample - nothing lost, nothing twice.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { GeneratorService, JobState, ResponseSchema } from '@delta/contracts';
import { createClient, waitForServing } from '@delta/rpc';
import { uniqueName } from '@delta/stream/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROJECT_ROOT, REPO_ROOT, freshTopics, readTopic, tempDir, testStream, tinyModel, watchToEnd,
  writeJsonl,
} from './helpers.js';

const stream = testStream();
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts dist/main.js with `env`; resolves once it reports SERVING. */
async function startChild(env: Record<string, string>, address: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitForServing(address, { timeoutMs: 60_000 });
  return child;
}

beforeAll(() => {
  // The child runs the built service; build it so it matches the sources under test.
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-b'], { cwd: PROJECT_ROOT });
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('a generator killed mid-job', () => {
  it('resumes after a restart and leaves exactly one record per prompt and sample', async () => {
    const models = tempDir('models');
    const data = tempDir('data');
    tinyModel(models, 'rung-k', { hidden: 128, layers: 4 });
    const prompts = Array.from({ length: 40 }, (_, i) => ({ id: `k${i}`, prompt: `Story ${i}:` }));
    const file = writeJsonl(data, 'prompts.jsonl', prompts);
    const [responsesTopic] = await freshTopics(stream, ['delta.responses', 3]);
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const env = {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS!,
      DELTA_GRPC_PORT: String(port),
      DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'generator-kill-0',
      DELTA_MODEL_ROOTS: models,
      DELTA_DATA_ROOTS: data,
      DELTA_LOG_LEVEL: 'warn',
      DELTA_GENERATOR_THREADS: '1',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
    };

    const first = await startChild(env, address);
    const client = createClient(GeneratorService, address);
    const runId = uniqueName('run');
    const jobId = uniqueName('job');
    await client.startGeneration({ runId, jobId, spec: {
      model: 'rung-k', prompts: { source: { case: 'file', value: file } },
      sampling: { temperature: 1, seed: 9n, n: 2, maxNewTokens: 48 }, batchSize: 2,
      responsesTopic,
    } });
    let doneBeforeKill = 0n;
    for await (const { job } of client.watchGeneration({ jobId })) {
      doneBeforeKill = job!.status?.promptsDone ?? 0n;
      if (doneBeforeKill >= 6n) break;
    }
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    expect(await exited).toBeNull();
    client.close();

    const before = await readTopic(stream, responsesTopic!, ResponseSchema);
    expect(before.length).toBeGreaterThanOrEqual(Number(doneBeforeKill) * 2);
    expect(before.length).toBeLessThan(80);

    await startChild(env, address);
    const again = createClient(GeneratorService, address);
    const job = await watchToEnd(again, jobId);
    again.close();
    expect(job.meta!.state).toBe(JobState.SUCCEEDED);
    expect(job.status!.promptsDone).toBe(40n);
    expect(job.status!.responsesWritten).toBe(80n);
    expect(job.status!.promptsSkipped).toBe(0n);
    expect(job.meta!.progress).toMatchObject({ done: 40n, total: 40n });

    const records = await readTopic(stream, responsesTopic!, ResponseSchema);
    const keys = records.map((r) => `${r.value.promptId}/${r.value.sampleIndex}`);
    expect(keys).toHaveLength(80);
    expect(new Set(keys).size).toBe(80);
    expect(records.every((r) => r.value.jobId === jobId && r.value.runId === runId)).toBe(true);
  });
});
