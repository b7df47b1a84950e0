// Test helpers: temp folders, a generator served for real on loopback, and readers of what
// reached Kafka. Model folders come from model-folder.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import { GeneratorService, JobState, type GenerationJob } from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
import { startJobService, type RunningService } from '@delta/service';
import { createStream, type Stream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import type { TestTelemetry } from '@delta/telemetry';
import { afterAll } from 'vitest';
import { createGeneratorService } from '../src/index.js';

export { CHAT_TEMPLATE, TINY_VOCAB, byteTokenizerJson, tinyModel, type TinyModelOptions }
  from './model-folder.js';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
export const REPO_ROOT = path.resolve(PROJECT_ROOT, '../..');

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the system temp dir, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `delta-generator-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Writes JSONL lines (strings as they are, objects as JSON) and returns the file. */
export function writeJsonl(dir: string, name: string, lines: (string | object)[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
    .join('\n') + '\n');
  return file;
}

/** A stream on the test broker. */
export function testStream(clientId = 'generator-test'): Stream {
  return createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId });
}

/** Creates fresh topics with unique names; returns their names in order. */
export async function freshTopics(stream: Stream, ...specs: [string, number][]) {
  const names = specs.map(([base]) => uniqueName(base));
  const admin = stream.admin();
  try {
    await admin.ensureTopics(specs.map(([, partitions], i) => ({ topic: names[i]!, partitions })));
  } finally {
    await admin.disconnect();
  }
  return names;
}

/**
 * Every record of a topic up to its current end, decoded. read_committed by default, as the
 * pairer reads; `uncommitted` also shows records of aborted transactions.
 */
export async function readTopic<D extends DescMessage>(
  stream: Stream,
  topicName: string,
  schema: D,
  options: { uncommitted?: boolean } = {},
): Promise<{ key: string; partition: number; value: MessageShape<D>;
  headers: Record<string, string> }[]> {
  const admin = stream.admin();
  const ends = await admin.endOffsets(topicName).finally(() => admin.disconnect());
  const behind = new Map([...ends].filter(([, end]) => end > 0n));
  const out: { key: string; partition: number; value: MessageShape<D>;
    headers: Record<string, string> }[] = [];
  if (behind.size === 0) return out;
  const consumer = stream.kafka.consumer({ groupId: uniqueName('delta.test.reader'),
    readUncommitted: options.uncommitted ?? false, maxWaitTimeInMs: 200 });
  let reached: () => void = () => {};
  const done = new Promise<void>((resolve) => { reached = resolve; });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = behind.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
      behind.delete(payload.partition);
      if (behind.size === 0) reached();
    }
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topicName], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) {
        if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
      }
      out.push({ key: message.key?.toString() ?? '', partition,
        value: fromBinary(schema, message.value!), headers });
    },
  });
  await done;
  await consumer.disconnect();
  return out;
}

/** Environment of a generator served in-process for a test. */
export function generatorEnv(options: {
  jobsTopic: string;
  instanceId?: string;
  modelRoots: string;
  dataRoots: string;
  extra?: Record<string, string>;
}): Record<string, string | undefined> {
  return {
    DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS,
    DELTA_GRPC_PORT: '0',
    DELTA_JOBS_TOPIC: options.jobsTopic,
    DELTA_INSTANCE_ID: options.instanceId ?? 'generator-test-0',
    DELTA_MODEL_ROOTS: options.modelRoots,
    DELTA_DATA_ROOTS: options.dataRoots,
    DELTA_LOG_LEVEL: 'silent',
    DELTA_GENERATOR_THREADS: '1',
    ...options.extra,
  };
}

/** Starts the generator in this process with `env`, using the test's telemetry. */
export async function serveGenerator(
  env: Record<string, string | undefined>,
  telemetry: TestTelemetry,
): Promise<{ service: RunningService<GenerationJob>; client: Client<typeof GeneratorService> }> {
  const service = await startJobService(createGeneratorService(env), {
    env, externalTelemetry: telemetry,
  });
  return { service, client: createClient(GeneratorService, service.server.address) };
}

/** Follows a job until it ends; returns its last state. */
export async function watchToEnd(
  client: Client<typeof GeneratorService>,
  jobId: string,
): Promise<GenerationJob> {
  let last: GenerationJob | undefined;
  for await (const { job } of client.watchGeneration({ jobId })) last = job;
  if (!last) throw new Error(`no state for job ${jobId}`);
  return last;
}

/** The job's state name, with the error when it failed, for readable assertion failures. */
export function stateName(job: GenerationJob): string {
  const name = JobState[job.meta!.state]!;
  const error = job.meta!.error;
  return error ? `${name}: ${error.code} ${error.message}` : name;
}
