// A job service on the shared runtime, served for real: gRPC on loopback, jobs on a real broker.
import { GeneratorService, JobState } from '@delta/contracts';
import { GENERATION, type RunningJob } from '@delta/jobs';
import { Code, createClient, invalidArgument, checkHealth, type Client } from '@delta/rpc';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import type { GenerationJob } from '@delta/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobService, type JobServiceDefinition, type RunningService } from '../src/index.js';

let telemetry: TestTelemetry;
const started: RunningService<GenerationJob>[] = [];

beforeAll(async () => { telemetry = await startTestTelemetry('service-test'); });
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop('test over')));
  await telemetry.shutdown();
});

/** Counts prompts up to the number in spec.model ("count:N"), one every 10 ms. */
const counter: JobServiceDefinition<GenerationJob> = {
  name: 'generator',
  defaultPort: 0,
  kind: GENERATION,
  service: GeneratorService,
  async prepare(spec) {
    if (!spec.model.startsWith('count:')) throw invalidArgument('spec.model', 'must be count:N');
  },
  async run(job: RunningJob<GenerationJob>) {
    const total = Number(job.spec.model.slice('count:'.length));
    for (let i = Number(job.status.promptsDone); i < total && !job.signal.aborted; i++) {
      await new Promise((r) => setTimeout(r, 10));
      job.status.promptsDone = BigInt(i + 1);
      job.report({ done: i + 1, total, unit: 'prompts' });
    }
  },
};

async function serve(jobsTopic: string, instance = 'generator-0') {
  const service = await startJobService(counter, {
    externalTelemetry: telemetry,
    env: {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS,
      DELTA_GRPC_PORT: '0',
      DELTA_JOBS_TOPIC: jobsTopic,
      DELTA_INSTANCE_ID: instance,
      DELTA_LOG_LEVEL: 'silent',
    },
  });
  started.push(service);
  return service;
}

describe('startJobService', () => {
  let service: RunningService<GenerationJob>;
  let client: Client<typeof GeneratorService>;

  beforeAll(async () => {
    service = await serve(uniqueName('delta.jobs'));
    client = createClient(GeneratorService, service.server.address);
  });

  it('reports SERVING and runs a job to the end while a watcher streams it', async () => {
    expect(await checkHealth(service.server.address)).toBe('SERVING');
    const { jobId } = await client.startGeneration({ runId: 'run-s', spec: { model: 'count:5' } });
    let last: GenerationJob | undefined;
    for await (const { job } of client.watchGeneration({ jobId })) last = job;
    expect(last?.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last?.status?.promptsDone).toBe(5n);
    expect((await client.getGeneration({ jobId })).job?.meta?.runId).toBe('run-s');
  });

  it('refuses a bad spec with INVALID_ARGUMENT naming the field', async () => {
    await expect(client.startGeneration({ spec: { model: 'rung-1' } }))
      .rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, message: 'spec.model: must be count:N' });
    await expect(client.startGeneration({})).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
  });

  it('cancels a running job', async () => {
    const { jobId } = await client.startGeneration({ spec: { model: 'count:100000' } });
    await new Promise((r) => setTimeout(r, 100));
    const { job } = await client.cancelGeneration({ jobId });
    expect(job?.meta?.state).toBe(JobState.CANCELLED);
  });

  it('runs the job inside the trace of the call that started it', async () => {
    const tracer = telemetry.tracer('test');
    const traceId = await tracer.startActiveSpan('client', async (span) => {
      const { jobId } = await client.startGeneration({ spec: { model: 'count:1' } });
      for await (const _ of client.watchGeneration({ jobId })) { /* until it ends */ }
      span.end();
      return span.spanContext().traceId;
    });
    const names = telemetry.spans().filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
    expect(names).toContain('generation job');
    expect(names).toContain('delta.v1.GeneratorService/StartGeneration');
  });
});

describe('a restarted instance', () => {
  it('resumes the job it was running when it was stopped', async () => {
    const jobsTopic = uniqueName('delta.jobs');
    const first = await serve(jobsTopic, 'generator-r');
    const client = createClient(GeneratorService, first.server.address);
    const { jobId } = await client.startGeneration({ spec: { model: 'count:60' } });
    await new Promise((r) => setTimeout(r, 150));
    await first.stop('rolling restart');

    const second = await serve(jobsTopic, 'generator-r');
    const again = createClient(GeneratorService, second.server.address);
    let last: GenerationJob | undefined;
    for await (const { job } of again.watchGeneration({ jobId })) last = job;
    expect(last?.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last?.status?.promptsDone).toBe(60n);
  });
});
