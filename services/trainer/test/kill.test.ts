// The built delta-trainer process, killed with SIGKILL in the middle of training (after a
// checkpoint) and started again under the same instance id: it resumes the job by itself and
// ends with weights bit-identical to an uninterrupted job of the same spec and seed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TrainerService, JobState, type TrainingJob } from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
import { uniqueName } from '@delta/stream/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, scratch } from './support/scratch.js';
import { arithmeticPairs, writePairsFile, writeStudent } from './support/student.js';

const MAIN = path.join(REPO_ROOT, 'services/trainer/dist/main.js');
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
      const line = output.split('\n').find((l) => l.includes('"trainer serving"'));
      if (!line) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve({ child, address: (JSON.parse(line) as { address: string }).address });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code) => reject(new Error(`delta-trainer exited ${code}:\n${output}`)));
  });
}

async function finished(client: Client<typeof TrainerService>, jobId: string):
  Promise<TrainingJob> {
  let last: TrainingJob | undefined;
  for await (const { job } of client.watchTraining({ jobId })) last = job;
  return last!;
}

describe('a trainer killed mid-training', () => {
  let env: Record<string, string>;
  let out: string;

  beforeAll(async () => {
    if (!existsSync(MAIN)) {
      throw new Error(`${MAIN} is missing; build first (npx nx build @delta/trainer)`);
    }
    const base = scratch('kill');
    out = path.join(base, 'out');
    await writeStudent(path.join(base, 'models', 'student'));
    writePairsFile(path.join(base, 'data', 'pairs.jsonl'), arithmeticPairs(24));
    env = {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS!,
      DELTA_GRPC_PORT: '0',
      DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'trainer-kill',
      DELTA_LOG_LEVEL: 'info',
      DELTA_MODEL_ROOTS: path.join(base, 'models'),
      DELTA_DATA_ROOTS: path.join(base, 'data'),
      DELTA_OUTPUT_ROOTS: out,
      DELTA_TRAINER_THREADS: '1',
    };
  });

  it('resumes by itself and ends with the weights of an uninterrupted job', async () => {
    const spec = (outputDir: string) => ({
      student: 'student', pairs: { source: { case: 'file' as const, value: 'pairs.jsonl' } },
      preset: 'tiny', outputDir, skipOnnxExport: true,
      config: { maxSteps: 300, epochs: 100, checkpointEvery: 25, seed: 11n },
    });
    const first = await serve(env);
    let client = createClient(TrainerService, first.address);
    const { jobId } = await client.startTraining({ runId: 'run-kill', spec: spec('killed') });
    let killedAt = 0;
    for await (const { job } of client.watchTraining({ jobId })) {
      if (job?.status?.checkpointDir && (job.status.step ?? 0) > 30) {
        first.child.kill('SIGKILL');
        killedAt = job.status.step;
        break;
      }
    }
    await new Promise((r) => first.child.once('exit', r));
    expect(killedAt).toBeGreaterThan(30);
    expect(killedAt).toBeLessThan(300);
    const latest = readFileSync(path.join(out, 'killed/checkpoints/latest'), 'utf8').trim();
    expect(latest).toMatch(/^step-\d+$/);

    const second = await serve(env);
    client = createClient(TrainerService, second.address);
    const resumed = await finished(client, jobId);
    expect(resumed.meta?.state, resumed.meta?.error?.message).toBe(JobState.SUCCEEDED);
    expect(resumed.status?.step).toBe(300);
    // The second process went on from the checkpoint the first one left.
    const events = readFileSync(path.join(out, 'killed/events.jsonl'), 'utf8').split('\n')
      .filter(Boolean).map((l) => JSON.parse(l) as { event: string; checkpoint?: string });
    expect(events.map((e) => e.event)).toEqual(['start', 'resume', 'end']);
    expect(events[1]!.checkpoint).toBe(latest);

    const whole = await finished(client,
      (await client.startTraining({ runId: 'run-whole', spec: spec('whole') })).jobId);
    expect(whole.meta?.state).toBe(JobState.SUCCEEDED);

    const bytes = (dir: string) => readFileSync(path.join(out, dir, 'model/model.safetensors'));
    expect(bytes('killed').equals(bytes('whole'))).toBe(true);
    const losses = (dir: string) => readFileSync(path.join(out, dir, 'metrics.jsonl'), 'utf8')
      .split('\n').filter(Boolean).map((l) => JSON.parse(l) as { split: string; loss?: number })
      .filter((l) => l.split === 'step').map((l) => l.loss);
    expect(losses('killed')).toHaveLength(300);
    expect(losses('killed')).toEqual(losses('whole'));
  });
});
