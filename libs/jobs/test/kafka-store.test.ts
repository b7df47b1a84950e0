// The jobs topic as a store, on a real broker: a second instance sees the first one's jobs, and a
// restarted owner resumes its unfinished job from the topic alone.
import { create } from '@bufbuild/protobuf';
import { GenerationSpecSchema, JobState, type GenerationJob } from '@delta/contracts';
import { createStream, type Stream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATION, JobManager, KafkaJobStore, type JobRunner } from '../src/index.js';

let stream: Stream;
const spec = create(GenerationSpecSchema, { model: 'models/rung-2' });

beforeAll(() => {
  stream = createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId: 'jobs-test' });
});

const open: KafkaJobStore[] = [];
afterAll(async () => { await Promise.all(open.map((s) => s.close())); });

async function store(topicName: string): Promise<KafkaJobStore> {
  const s = await KafkaJobStore.open(stream, { topic: topicName });
  open.push(s);
  return s;
}

const slow: JobRunner<GenerationJob> = async (job) => {
  for (let i = Number(job.status.promptsDone); i < 1000 && !job.signal.aborted; i++) {
    await new Promise((r) => setTimeout(r, 5));
    job.status.promptsDone = BigInt(i + 1);
    job.report({ done: i + 1, total: 1000 });
  }
};

describe('KafkaJobStore', () => {
  it('keeps the latest state of each job where a restarted owner finds and resumes it', async () => {
    const jobsTopic = uniqueName('delta.jobs');
    const first = new JobManager({ kind: GENERATION, run: slow, store: await store(jobsTopic),
      owner: 'generator-0', persistIntervalMs: 0 });
    const { meta } = await first.start({ runId: 'run-k', spec });
    await new Promise((r) => setTimeout(r, 100));
    await first.shutdown();

    // A fresh view of the topic, as a restarted pod would build it.
    const reopened = await store(jobsTopic);
    const saved = GENERATION.fromRecord((await reopened.get(meta!.jobId))!);
    expect(saved?.meta?.state).toBe(JobState.QUEUED);
    expect(saved?.meta?.runId).toBe('run-k');
    const doneBefore = saved!.status!.promptsDone;
    expect(doneBefore).toBeGreaterThan(0n);

    let resumedFrom = -1n;
    const second = new JobManager({
      kind: GENERATION, store: reopened, owner: 'generator-0', persistIntervalMs: 0,
      run: async (job) => { resumedFrom = job.status.promptsDone; },
    });
    expect(await second.restore()).toBe(1);
    await second.idle();
    expect(resumedFrom).toBe(doneBefore);
    expect((await second.get(meta!.jobId)).meta?.state).toBe(JobState.SUCCEEDED);
  });

  it('lets another instance read a job it does not run', async () => {
    const jobsTopic = uniqueName('delta.jobs');
    const owner = new JobManager({ kind: GENERATION, run: async () => {}, store: await store(jobsTopic),
      owner: 'generator-a', persistIntervalMs: 0 });
    const { meta } = await owner.start({ runId: 'run-v', spec });
    await owner.idle();

    const otherStore = await store(jobsTopic);
    const other = new JobManager({ kind: GENERATION, run: async () => {}, store: otherStore,
      owner: 'generator-b' });
    const seen = await other.get(meta!.jobId);
    expect(seen.meta?.state).toBe(JobState.SUCCEEDED);
    expect(seen.meta?.owner).toBe('generator-a');
  });
});
