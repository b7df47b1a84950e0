// A real grpc-js server and client over loopback, serving the generator contract with handlers
// written for the test.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import {
  credentials,
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  GenerationJobSchema,
  GeneratorService,
  JobState,
  type StartGenerationRequest,
} from '@delta/contracts';
import {
  Code,
  RpcError,
  checkHealth,
  createClient,
  createServer,
  implement,
  validate,
  type CallContext,
  type RpcServer,
} from '@delta/rpc';

function job(id: string, state: JobState) {
  return create(GenerationJobSchema, { meta: { jobId: id, runId: 'run-1', state } });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

const seen: { slowAborted?: boolean; streamStopped?: boolean } = {};

const generator = implement(GeneratorService, {
  async startGeneration(request: StartGenerationRequest) {
    validate((v) => {
      v.required('spec', request.spec);
      v.required('spec.model', request.spec?.model);
      if (request.spec) v.atMost('spec.batch_size', request.spec.batchSize, 64);
    });
    if (request.spec?.model === 'crash') throw new Error('secret internal detail at /srv/x.ts:12');
    if (request.spec?.model === 'kafka-down') {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:9092'), { retriable: true });
    }
    return { jobId: request.jobId || 'job-1', job: job(request.jobId || 'job-1', JobState.QUEUED) };
  },
  async *watchGeneration(request, ctx: CallContext) {
    try {
      for (let i = 0; i < 1000; i++) {
        yield { job: job(request.jobId, i < 2 ? JobState.RUNNING : JobState.SUCCEEDED) };
        if (request.jobId === 'short' && i === 2) return;
        await sleep(20, ctx.signal);
      }
    } finally {
      seen.streamStopped = true;
    }
  },
  async getGeneration(request, ctx) {
    if (request.jobId === 'slow') {
      try {
        await sleep(5_000, ctx.signal);
      } catch (err) {
        seen.slowAborted = ctx.signal.aborted;
        throw err;
      }
    }
    return { job: job(request.jobId, JobState.RUNNING) };
  },
  async cancelGeneration(request) {
    return { job: job(request.jobId, JobState.CANCELLED) };
  },
});

let server: RpcServer;
const errors: { code: number; method: string; cause: unknown }[] = [];

beforeAll(async () => {
  server = await createServer({
    services: [generator],
    maxMessageBytes: 64 * 1024,
    onError: (error, method) => errors.push({ code: error.code, method, cause: error.cause }),
  });
});
afterAll(async () => {
  await server.shutdown('test over');
});

describe('a Delta gRPC server', () => {
  it('reports SERVING for the server and for each service through grpc.health.v1', async () => {
    expect(await checkHealth(server.address)).toBe('SERVING');
    expect(await checkHealth(server.address, 'delta.v1.GeneratorService')).toBe('SERVING');
    expect(await checkHealth(server.address, 'delta.v1.NoSuchService')).toBe('SERVICE_UNKNOWN');
  });

  it('lists the delta services and serves their files through reflection', async () => {
    const require = createRequire(import.meta.url);
    const protoFile = path.join(
      path.dirname(require.resolve('@grpc/reflection')),
      '../proto/grpc/reflection/v1/reflection.proto',
    );
    const pkg = loadPackageDefinition(loadSync(protoFile, { keepCase: true, longs: String }));
    const reflection = ((pkg.grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject;
    const Client = reflection.ServerReflection as ServiceClientConstructor;
    const client = new Client(server.address, credentials.createInsecure());
    const ask = (request: object) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = client.ServerReflectionInfo();
        stream.on('data', (message: Record<string, unknown>) => {
          resolve(message);
          stream.end();
        });
        stream.on('error', reject);
        stream.write(request);
      });

    const listed = await ask({ list_services: '' });
    const names = (listed.list_services_response as { service: { name: string }[] }).service.map(
      (s) => s.name,
    );
    expect(names).toEqual(['delta.v1.GeneratorService']);

    const file = await ask({ file_containing_symbol: 'delta.v1.GeneratorService' });
    const protos = (file.file_descriptor_response as { file_descriptor_proto: Buffer[] })
      .file_descriptor_proto;
    expect(protos.length).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(protos[0]!).toString('latin1')).toContain('delta/v1/generator.proto');
    client.close();
  });

  it('answers unary calls with typed messages', async () => {
    const client = createClient(GeneratorService, server.address);
    const response = await client.startGeneration({ jobId: 'j-7', spec: { model: 'tiny' } });
    expect(response.jobId).toBe('j-7');
    expect(response.job?.meta?.state).toBe(JobState.QUEUED);
    client.close();
  });

  it('streams server-streaming responses as an async iterable', async () => {
    const client = createClient(GeneratorService, server.address);
    const states: JobState[] = [];
    for await (const update of client.watchGeneration({ jobId: 'short' })) {
      states.push(update.job!.meta!.state);
    }
    expect(states).toEqual([JobState.RUNNING, JobState.RUNNING, JobState.SUCCEEDED]);
    client.close();
  });

  it('stops the server-side stream when the client breaks out of the loop', async () => {
    const client = createClient(GeneratorService, server.address);
    seen.streamStopped = false;
    let count = 0;
    for await (const _ of client.watchGeneration({ jobId: 'long' })) {
      if (++count === 3) break;
    }
    await expect.poll(() => seen.streamStopped, { timeout: 5_000 }).toBe(true);
    client.close();
  });

  it('returns DEADLINE_EXCEEDED when the deadline expires, and aborts the handler', async () => {
    const client = createClient(GeneratorService, server.address);
    seen.slowAborted = undefined;
    const started = Date.now();
    const error = await client
      .getGeneration({ jobId: 'slow' }, { deadlineMs: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(4_000);
    await expect.poll(() => seen.slowAborted, { timeout: 5_000 }).toBe(true);
    client.close();
  });

  it('returns CANCELLED when the caller aborts its signal', async () => {
    const client = createClient(GeneratorService, server.address);
    const abort = new AbortController();
    const pending = client.getGeneration({ jobId: 'slow' }, { signal: abort.signal });
    setTimeout(() => abort.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: Code.CANCELLED });
    client.close();
  });

  it('returns INVALID_ARGUMENT naming every bad field', async () => {
    const client = createClient(GeneratorService, server.address);
    const missing = await client.startGeneration({ spec: { batchSize: 512 } }).catch((e) => e);
    expect(missing).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect((missing as RpcError).message).toBe(
      'spec.model: required; spec.batch_size: 512 is above the limit 64',
    );
    const noSpec = await client.startGeneration({}).catch((e) => e);
    expect((noSpec as RpcError).message).toBe('spec: required; spec.model: required');
    client.close();
  });

  it('maps an unexpected error to INTERNAL without leaking its message or stack', async () => {
    const client = createClient(GeneratorService, server.address);
    errors.length = 0;
    const error = await client.startGeneration({ spec: { model: 'crash' } }).catch((e) => e);
    expect(error).toMatchObject({ code: Code.INTERNAL, message: 'internal error' });
    expect(String((error as RpcError).message)).not.toContain('secret');
    // The original stays on the server side, for the service's log.
    expect(errors).toHaveLength(1);
    expect(errors[0]!.method).toBe('/delta.v1.GeneratorService/StartGeneration');
    expect((errors[0]!.cause as Error).message).toContain('secret internal detail');
    client.close();
  });

  it('maps an error marked retriable to UNAVAILABLE, without its details', async () => {
    const client = createClient(GeneratorService, server.address);
    const error = await client.startGeneration({ spec: { model: 'kafka-down' } }).catch((e) => e);
    expect(error).toMatchObject({
      code: Code.UNAVAILABLE,
      message: 'a service this call needs is unavailable; retry',
    });
    client.close();
  });

  it('refuses a request larger than the message size bound with RESOURCE_EXHAUSTED', async () => {
    const client = createClient(GeneratorService, server.address);
    const huge = 'x'.repeat(100 * 1024);
    const error = await client.startGeneration({ spec: { model: huge } }).catch((e) => e);
    expect(error).toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    client.close();
  });

  it('returns UNAVAILABLE when nothing listens at the address', async () => {
    const client = createClient(GeneratorService, '127.0.0.1:1', { defaultDeadlineMs: 2_000 });
    const error = await client.getGeneration({ jobId: 'x' }).catch((e) => e);
    expect([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]).toContain((error as RpcError).code);
    client.close();
  });
});
