// Shared set-up of the pairer's tests: a pairer served for real on a real broker, a client,
// records to feed it, and readers of what it wrote.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import {
  FinishReason, PairSchema, PairerService, type Pair, type PairingJob, type Response,
} from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
import { startJobService, type RunningService } from '@delta/service';
import { createStream, type Stream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import type { TestTelemetry } from '@delta/telemetry';
import { pairerDefinition, readPairerConfig, readToEnd } from '../src/index.js';

/** The repository root, found from this file. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The shared data folder beside the repository. */
export const sharedData = path.resolve(repoRoot, '../shared/data');

const made: string[] = [];

/** A fresh temporary folder for outputs; removeTempDirs() deletes it. */
export function tempDir(prefix = 'pairer-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Deletes the folders tempDir() made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A stream on the test broker. */
export function testStream(clientId = 'pairer-test'): Stream {
  return createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId });
}

/** Environment of a pairer under test: its own jobs topic, roots, and loopback gRPC. */
export function pairerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS!,
    DELTA_GRPC_PORT: '0',
    DELTA_GRPC_HOST: '127.0.0.1',
    DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
    DELTA_INSTANCE_ID: uniqueName('pairer'),
    DELTA_LOG_LEVEL: 'silent',
    DELTA_PAIRER_STATE_TOPIC_PREFIX: uniqueName('delta.pairer.state'),
    DELTA_PAIRER_GROUP_PREFIX: uniqueName('delta.pairer'),
    ...extra,
  };
}

/** A pairer started in this process with `env`, and a client to it. */
export async function startPairer(env: Record<string, string>, telemetry: TestTelemetry) {
  const service: RunningService<PairingJob> = await startJobService(
    pairerDefinition(readPairerConfig(env)), { env, externalTelemetry: telemetry });
  const client: Client<typeof PairerService> = createClient(PairerService, service.server.address);
  return { service, client };
}

/** The job's last state once it ended. */
export async function waitForEnd(client: Client<typeof PairerService>, jobId: string) {
  let last: PairingJob | undefined;
  for await (const { job } of client.watchPairing({ jobId })) last = job;
  return last!;
}

/** Every committed pair on a topic, in topic order. */
export async function readPairs(stream: Stream, topicName: string): Promise<Pair[]> {
  const pairs: Pair[] = [];
  await readToEnd(stream.kafka, topicName, (message) => {
    if (message.value) pairs.push(fromBinary(PairSchema, message.value));
  }, { groupPrefix: uniqueName('reader'), timeoutMs: 60_000 });
  return pairs;
}

/** Fields a test sets on a response beside its model and text. */
export type Extras = Partial<Pick<Response, 'runId' | 'promptId' | 'finishReason' | 'score' |
  'reference' | 'sampleIndex' | 'task'>>;

/** The traceparent header of every committed pair on a topic, by pair id. */
export async function readPairTraces(stream: Stream, topicName: string) {
  const traces = new Map<string, string>();
  await readToEnd(stream.kafka, topicName, (message) => {
    if (!message.value) return;
    const pair = fromBinary(PairSchema, message.value);
    traces.set(pair.pairId, message.headers?.traceparent?.toString() ?? '');
  }, { groupPrefix: uniqueName('reader'), timeoutMs: 60_000 });
  return traces;
}

/** A response record of run `runId`, keyed by its prompt id. */
export function responseRecord(
  runId: string, promptId: string, model: string, text: string, extra: Extras = {},
) {
  return {
    key: promptId,
    value: {
      runId, promptId, model, text, finishReason: FinishReason.STOP, completionTokens: 7,
      prompt: [{ role: 'user', content: `Question ${promptId}` }], ...extra,
    },
  };
}

/** A deterministic shuffle (mulberry32), so a failing order can be replayed. */
export function shuffle<T>(items: T[], seed: number): T[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Polls until `check` holds or the time is up. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}
