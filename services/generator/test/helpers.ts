// Test helpers: tiny real model folders (random weights, a byte-level tokenizer, a chat
// template), a generator served for real on loopback, and readers of what reached Kafka.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import { GeneratorService, JobState, type GenerationJob } from '@delta/contracts';
import { exportOnnx, writeRandomCheckpoint } from '@delta/lm';
import { createClient, type Client } from '@delta/rpc';
import { startJobService, type RunningService } from '@delta/service';
import { createStream, type Stream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import type { TestTelemetry } from '@delta/telemetry';
import { afterAll } from 'vitest';
import { createGeneratorService } from '../src/index.js';

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

const SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>',
  '<|end_header_id|>', '<|eot_id|>', '<|im_start|>', '<|im_end|>', '<|pad|>'];

/** The printable characters byte-level BPE uses for the 256 byte values (GPT-2's table). */
function byteCharacters(): string[] {
  const printable: number[] = [];
  for (let c = 0x21; c <= 0x7e; c++) printable.push(c);
  for (let c = 0xa1; c <= 0xac; c++) printable.push(c);
  for (let c = 0xae; c <= 0xff; c++) printable.push(c);
  const chars = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return chars;
}

/** Vocabulary of the test tokenizer: 8 special tokens, then one token per byte. */
export const TINY_VOCAB = SPECIALS.length + 256;

/**
 * A byte-level tokenizer.json without merges: every byte of text is one token, so a prompt's
 * length in tokens is its UTF-8 length plus the template's tokens.
 */
export function byteTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => { vocab[s] = i; });
  byteCharacters().forEach((c, b) => { vocab[c] = SPECIALS.length + b; });
  const flags = { single_word: false, lstrip: false, rstrip: false, normalized: false,
    special: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, ...flags })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true,
      use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: SPECIALS[0], type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: SPECIALS[0], type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { [SPECIALS[0]!]: { id: SPECIALS[0], ids: [0], tokens: [SPECIALS[0]] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges: [] },
  };
}

/** A chat template in Llama 3's shape, written for these tests. */
export const CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

/** Options of a tiny model folder. */
export interface TinyModelOptions {
  /** max_position_embeddings; default 256. */
  context?: number;
  seed?: number;
  /** Layers and width grow the cost of a token (for tests that need a job to take a while). */
  layers?: number;
  hidden?: number;
  /** Skip the ONNX export (a folder that is not ready to serve). */
  skipExport?: boolean;
  chatTemplate?: boolean;
}

/** Writes a random-weight Llama with the byte tokenizer into `dir`/`name` and exports it. */
export function tinyModel(root: string, name: string, options: TinyModelOptions = {}): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const hidden = options.hidden ?? 64;
  writeRandomCheckpoint(dir, {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: TINY_VOCAB,
    hidden_size: hidden, intermediate_size: hidden * 2, num_hidden_layers: options.layers ?? 2,
    num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: options.context ?? 256, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 1,
  }, options.seed ?? 7);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    bos_token: SPECIALS[0], eos_token: SPECIALS[1], pad_token: SPECIALS[7],
    ...(options.chatTemplate === false ? {} : { chat_template: CHAT_TEMPLATE }),
  }));
  writeFileSync(path.join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: [1, 4], pad_token_id: 7 }));
  if (!options.skipExport) exportOnnx(dir);
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
