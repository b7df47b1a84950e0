// The built delta-evaluator process, killed with SIGKILL in the middle of a job and started
// again under the same instance id: it resumes the job, keeps the task that had ended, runs
// the interrupted one again, and leaves every item exactly once in the details file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EvaluatorService, JobState, type EvaluationJob } from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
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
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing; build first (npx nx build @delta/evaluator)`);
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
        { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 60, sampling: { maxNewTokens: 32 } },
      ],
      batchSize: 1,
      detailsFile: 'details.jsonl',
    } });
    let before: EvaluationJob | undefined;
    for await (const { job } of client.watchEvaluation({ jobId })) {
      if (job!.status!.results.length === 1) {
        before = job;
        break;
      }
    }
    // Past the store's save interval (1 s), so the ended task is on the jobs topic.
    await new Promise((r) => setTimeout(r, 1500));
    const { job: running } = await client.getEvaluation({ jobId });
    expect(running?.meta?.state, 'the job ended before the kill; make its second task longer')
      .toBe(JobState.RUNNING);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await serve(env);
    client = createClient(EvaluatorService, second.address);
    const seen: EvaluationJob[] = [];
    for await (const { job } of client.watchEvaluation({ jobId })) seen.push(job!);
    const last = seen.at(-1)!;

    expect(last.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last.status?.results.map((r) => r.task)).toEqual(['mmlu', 'gsm8k']);
    expect(last.status?.results[0]).toEqual(before!.status!.results[0]);
    expect(last.status?.itemsDone).toBe(68n);
    expect(seen[0]!.status!.results.map((r) => r.task)).toEqual(['mmlu']);

    const lines = readFileSync(path.join(outRoot, 'details.jsonl'), 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { task: string; id: string });
    const keys = lines.map((l) => `${l.task}/${l.id}`);
    expect(new Set(keys).size).toBe(68);
    expect(lines.filter((l) => l.task === 'mmlu')).toHaveLength(8);
    expect(lines.filter((l) => l.task === 'gsm8k')).toHaveLength(60);
  });
});
