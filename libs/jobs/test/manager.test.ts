import { create } from '@bufbuild/protobuf';
import { GenerationSpecSchema, JobState, type GenerationJob } from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import { describe, expect, it } from 'vitest';
import { GENERATION, JobManager, MemoryJobStore, type JobRunner, type RunningJob } from '../src/index.js';

const spec = create(GenerationSpecSchema, { model: 'models/rung-1' });

/** A runner that counts to `steps`, one step per tick, stopping early on abort. */
function counting(steps: number, seen: RunningJob<GenerationJob>[] = []): JobRunner<GenerationJob> {
  return async (job) => {
    seen.push(job);
    const from = Number(job.status.promptsDone);
    for (let i = from; i < steps; i++) {
      if (job.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 5));
      job.status.promptsDone = BigInt(i + 1);
      job.report({ done: i + 1, total: steps, unit: 'prompts' });
    }
  };
}

function manager(run: JobRunner<GenerationJob>, store = new MemoryJobStore(), owner = 'gen-0') {
  return new JobManager({ kind: GENERATION, run, store, owner, persistIntervalMs: 0 });
}

describe('JobManager', () => {
  it('runs a job to SUCCEEDED and streams its progress to a watcher', async () => {
    const jobs = manager(counting(3));
    const started = await jobs.start({ runId: 'run-a', spec });
    expect(started.meta?.runId).toBe('run-a');

    const states: JobState[] = [];
    let last: GenerationJob | undefined;
    for await (const job of jobs.watch(started.meta!.jobId)) {
      states.push(job.meta!.state);
      last = job;
    }
    expect(states.at(-1)).toBe(JobState.SUCCEEDED);
    expect(last?.status?.promptsDone).toBe(3n);
    expect(last?.meta?.progress?.done).toBe(3n);
    expect(last?.meta?.progress?.total).toBe(3n);
  });

  it('returns the same job when a start is retried with the same job id', async () => {
    const jobs = manager(counting(1));
    const a = await jobs.start({ jobId: 'fixed-id', spec });
    const b = await jobs.start({ jobId: 'fixed-id', spec });
    expect(b.meta?.jobId).toBe(a.meta?.jobId);
    expect(b.meta?.createdAt).toEqual(a.meta?.createdAt);
    await jobs.idle();
  });

  it('cancels a running job, keeping the work it finished', async () => {
    const jobs = manager(counting(1000));
    const { meta } = await jobs.start({ spec });
    await new Promise((r) => setTimeout(r, 30));
    const cancelled = await jobs.cancel(meta!.jobId);
    expect(cancelled.meta?.state).toBe(JobState.CANCELLED);
    expect(cancelled.status?.promptsDone).toBeGreaterThan(0n);
    expect(cancelled.status?.promptsDone).toBeLessThan(1000n);
  });

  it('cancels a queued job without running it', async () => {
    const seen: RunningJob<GenerationJob>[] = [];
    const jobs = manager(counting(50, seen));
    const first = await jobs.start({ spec });
    const second = await jobs.start({ spec });
    expect(second.meta?.state).toBe(JobState.QUEUED);
    expect((await jobs.cancel(second.meta!.jobId)).meta?.state).toBe(JobState.CANCELLED);
    await jobs.idle();
    expect(seen.map((j) => j.jobId)).toEqual([first.meta!.jobId]);
  });

  it('fails a job with the code and message the runner threw', async () => {
    const jobs = manager(async () => {
      throw new RpcError(Code.NOT_FOUND, 'model.onnx not found in models/rung-1');
    });
    const { meta } = await jobs.start({ spec });
    await jobs.idle();
    const failed = await jobs.get(meta!.jobId);
    expect(failed.meta?.state).toBe(JobState.FAILED);
    expect(failed.meta?.error?.code).toBe('NOT_FOUND');
    expect(failed.meta?.error?.message).toBe('model.onnx not found in models/rung-1');
  });

  it('answers NOT_FOUND for an unknown job', async () => {
    await expect(manager(counting(1)).get('nope')).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });

  it('resumes an interrupted job from where it stopped after a restart of the same owner', async () => {
    const store = new MemoryJobStore();
    const before = manager(counting(1000), store);
    const { meta } = await before.start({ runId: 'run-r', spec });
    await new Promise((r) => setTimeout(r, 30));
    await before.shutdown();
    const interrupted = await before.get(meta!.jobId);
    expect(interrupted.meta?.state).toBe(JobState.QUEUED);
    const doneBefore = interrupted.status!.promptsDone;

    const seen: RunningJob<GenerationJob>[] = [];
    const after = manager(counting(40 + Number(doneBefore), seen), store);
    expect(await after.restore()).toBe(1);
    await after.idle();
    expect(seen[0]?.resumed).toBe(true);
    expect(seen[0]?.runId).toBe('run-r');
    const resumed = await after.get(meta!.jobId);
    expect(resumed.meta?.state).toBe(JobState.SUCCEEDED);
    expect(resumed.status?.promptsDone).toBe(40n + doneBefore);
  });

  it('leaves jobs of another owner alone on restore', async () => {
    const store = new MemoryJobStore();
    const a = manager(counting(1000), store, 'gen-a');
    await a.start({ spec });
    await new Promise((r) => setTimeout(r, 20));
    await a.shutdown();
    expect(await manager(counting(1), store, 'gen-b').restore()).toBe(0);
  });

  it('refuses new jobs while shutting down', async () => {
    const jobs = manager(counting(1));
    await jobs.shutdown();
    await expect(jobs.start({ spec })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });
});
