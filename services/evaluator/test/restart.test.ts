// Restarts in the middle of a job. The built delta-evaluator process killed with SIGKILL and
// started again under the same instance id resumes the job and leaves every item exactly once
// in the details file. A service stopped gracefully saves the job at once, so the restarted
// one keeps the task that had ended and runs only the interrupted one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EvaluatorService, JobState, type EvaluationJob } from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
import { startJobService } from '@delta/service';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatorService, readEvaluatorSettings } from '../src/index.js';
import { FIXTURES, REPO_ROOT, SHARED_DATA, tempDir, writeTinyModel } from './support/model.js';

const MAIN = path.join(REPO_ROOT, 'services/evaluator/dist/main.js');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts the service process; resolves with its address once it logs that it serves. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('"evaluator serving"')) continue;
        child.stdout!.off('data', onData);
        resolve({ child, address: (JSON.parse(line) as { address: string }).address });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`delta-evaluator exited ${code}:\n${output}`)));
  });
}

describe('a killed evaluator', () => {
  let env: Record<string, string>;
  let outRoot: string;
  beforeAll(() => {
    if (!existsSync(MAIN)) {
      throw new Error(`${MAIN} is missing; build first (npx nx build @delta/evaluator)`);
    }
    const models = tempDir('models');
    outRoot = tempDir('out');
    writeTinyModel(path.join(models, 'tiny'));
    env = {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS!,
      DELTA_GRPC_PORT: '0',
      DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'evaluator-restart',
      DELTA_LOG_LEVEL: 'info',
      DELTA_MODEL_ROOTS: models,
      DELTA_DATA_ROOTS: [SHARED_DATA, FIXTURES].join(path.delimiter),
      DELTA_OUTPUT_ROOTS: outRoot,
      DELTA_EVALUATOR_THREADS: '1',
    };
  });

  it('resumes its job after a restart without losing or repeating an item', async () => {
    const first = await serve(env);
    let client: Client<typeof EvaluatorService> = createClient(EvaluatorService, first.address);
    const { jobId } = await client.startEvaluation({ spec: {
      model: 'tiny',
      tasks: [
        { name: 'mmlu', dataFile: 'mc.jsonl' },
        { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 40, sampling: { maxNewTokens: 24 } },
      ],
      batchSize: 1,
      detailsFile: 'details.jsonl',
    } });
    // Killed while the second task runs; the first one's result may or may not be saved yet.
    let before: EvaluationJob | undefined;
    for await (const { job } of client.watchEvaluation({ jobId })) {
      if (job!.status!.results.length === 1) {
        before = job;
        break;
      }
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await serve(env);
    client = createClient(EvaluatorService, second.address);
    const seen: EvaluationJob[] = [];
    for await (const { job } of client.watchEvaluation({ jobId })) seen.push(job!);
    const last = seen.at(-1)!;

    expect([JobState.QUEUED, JobState.RUNNING]).toContain(seen[0]!.meta?.state);
    expect(last.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last.status?.results.map((r) => r.task)).toEqual(['mmlu', 'gsm8k']);
    expect(last.status?.results[0]).toEqual(before!.status!.results[0]);
    expect(last.status?.itemsDone).toBe(48n);

    const text = readFileSync(path.join(outRoot, 'details.jsonl'), 'utf8');
    const lines = text.split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { task: string; id: string });
    const keys = lines.map((l) => `${l.task}/${l.id}`);
    expect(new Set(keys).size).toBe(48);
    expect(lines.filter((l) => l.task === 'mmlu')).toHaveLength(8);
    expect(lines.filter((l) => l.task === 'gsm8k')).toHaveLength(40);
  });

  it('keeps the task that ended when stopped gracefully, and runs only the rest', async () => {
    const telemetry = await startTestTelemetry('evaluator-restart');
    const local = { ...env, DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'evaluator-graceful', DELTA_LOG_LEVEL: 'silent' };
    const start = () => startJobService(evaluatorService(readEvaluatorSettings(local)), {
      env: local, externalTelemetry: telemetry,
    });
    const first = await start();
    let client = createClient(EvaluatorService, first.server.address);
    const { jobId } = await client.startEvaluation({ spec: {
      model: 'tiny',
      tasks: [
        { name: 'mmlu', dataFile: 'mc.jsonl' },
        { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 20, sampling: { maxNewTokens: 24 } },
      ],
      batchSize: 1,
      detailsFile: 'graceful.jsonl',
    } });
    for await (const { job } of client.watchEvaluation({ jobId })) {
      if (job!.status!.results.length === 1) break;
    }
    await first.stop('rolling restart');

    const second = await start();
    client = createClient(EvaluatorService, second.server.address);
    const seen: EvaluationJob[] = [];
    for await (const { job } of client.watchEvaluation({ jobId })) seen.push(job!);
    await second.stop('test over');
    const names = telemetry.spans().map((s) => s.name);
    await telemetry.shutdown();

    expect(seen[0]!.status!.results.map((r) => r.task)).toEqual(['mmlu']);
    expect(seen.at(-1)!.meta?.state).toBe(JobState.SUCCEEDED);
    expect(seen.at(-1)!.status?.results.map((r) => r.task)).toEqual(['mmlu', 'gsm8k']);
    expect(names.filter((n) => n === 'evaluate mmlu')).toHaveLength(1);
    expect(names.filter((n) => n === 'evaluate gsm8k')).toHaveLength(2);
    const lines = readFileSync(path.join(outRoot, 'graceful.jsonl'), 'utf8').split('\n')
      .filter(Boolean).map((l) => (JSON.parse(l) as { task: string }).task);
    expect(lines).toEqual([...Array(8).fill('mmlu'), ...Array(20).fill('gsm8k')]);
  });
});
