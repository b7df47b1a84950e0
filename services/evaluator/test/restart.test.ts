// The built delta-evaluator process, killed with SIGKILL in the middle of a job and started
// again under the same instance id: it resumes the job, keeps the task that had ended, runs
// the interrupted one again, and leaves every item exactly once in the details file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EvaluatorService, JobState, type EvaluationJob } from '@delta/contracts';
import { EVALUATION, KafkaJobStore } from '@delta/jobs';
import { createClient, type Client } from '@delta/rpc';
import { createStream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    // Kill as soon as the jobs topic holds the first task's result, while the second runs.
    const store = await KafkaJobStore.open(
      createStream({ brokers: env.DELTA_KAFKA_BROKERS!, clientId: 'restart-test' }),
      { topic: env.DELTA_JOBS_TOPIC! });
    let before: EvaluationJob | undefined;
    while (!before) {
      const record = await store.get(jobId);
      const job = record && EVALUATION.fromRecord(record);
      if (job?.status?.results.length) before = job;
      else await new Promise((r) => setTimeout(r, 20));
    }
    await store.close();
    first.child.kill('SIGKILL');
    expect(before.meta?.state, 'the job ended before the kill').toBe(JobState.RUNNING);
    await new Promise((r) => first.child.once('exit', r));

    const second = await serve(env);
    client = createClient(EvaluatorService, second.address);
    const seen: EvaluationJob[] = [];
    for await (const { job } of client.watchEvaluation({ jobId })) seen.push(job!);
    const last = seen.at(-1)!;

    expect(last.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last.status?.results.map((r) => r.task)).toEqual(['mmlu', 'gsm8k']);
    expect(last.status?.results[0]).toEqual(before.status!.results[0]);
    expect(last.status?.itemsDone).toBe(48n);
    expect(seen[0]!.status!.results.map((r) => r.task)).toEqual(['mmlu']);

    const text = readFileSync(path.join(outRoot, 'details.jsonl'), 'utf8');
    const lines = text.split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { task: string; id: string });
    const keys = lines.map((l) => `${l.task}/${l.id}`);
    expect(new Set(keys).size).toBe(48);
    expect(lines.filter((l) => l.task === 'mmlu')).toHaveLength(8);
    expect(lines.filter((l) => l.task === 'gsm8k')).toHaveLength(40);
  });
});
