// The generator service on the shared job runtime: StartGeneration checks a spec (limits, roots,
// model folder, topics), and a job loads the model, fences earlier writers of its run and model,
// reads what they already answered, then answers the rest from a prompt file or a prompts topic.
// The decoding itself is @delta/lm's; the Kafka side is writer.ts, answered.ts, topic-source.ts.
import { existsSync, statSync } from 'node:fs';
import { GeneratorService, type GenerationJob, type GenerationSpec } from '@delta/contracts';
import { GENERATION, type RunningJob } from '@delta/jobs';
import { Code, RpcError, Violations, env, readEnv } from '@delta/rpc';
import type { JobServiceDefinition, ServiceContext } from '@delta/service';
import { decodingOf } from './answer.js';
import { scanAnswered } from './answered.js';
import type { JobWork } from './batches.js';
import { runFileSource } from './file-source.js';
import { checkModelFolder, checkPromptSupport, loadModel, type ModelOptions } from './model.js';
import {
  checkSpec, promptsGroupId, transactionalIdOf, type GeneratorLimits,
} from './spec.js';
import { Tally, createMetrics, type GeneratorMetrics } from './tally.js';
import { runTopicSource } from './topic-source.js';
import { ResponseWriter } from './writer.js';

/** Default gRPC port of the generator. */
export const GENERATOR_PORT = 50051;

/**
 * The generator's own environment variables (the runtime's are jobServiceEnvSpec's). Exported
 * so deployment manifests can be checked against what the service reads.
 */
export const generatorEnvSpec = {
  maxNewTokens: env.int('DELTA_GENERATOR_MAX_NEW_TOKENS', { default: 4096, min: 1,
    max: 1_048_576, doc: 'largest spec.sampling.max_new_tokens a request may ask for; a ' +
      'model default above it is cut to it' }),
  maxSamples: env.int('DELTA_GENERATOR_MAX_SAMPLES', { default: 16, min: 1, max: 4096,
    doc: 'largest spec.sampling.n (samples per prompt)' }),
  maxBatchSize: env.int('DELTA_GENERATOR_MAX_BATCH_SIZE', { default: 64, min: 1, max: 4096,
    doc: 'largest spec.batch_size (prompts decoded together)' }),
  batchSize: env.int('DELTA_GENERATOR_BATCH_SIZE', { default: 8, min: 1, max: 4096,
    doc: 'batch size of a request that gives none' }),
  threads: env.int('DELTA_GENERATOR_THREADS', { default: 0, min: 0, max: 1024,
    doc: 'ONNX Runtime intra-op threads; 0 lets it use every core' }),
  device: env.string('DELTA_GENERATOR_DEVICE', { default: 'auto', oneOf: ['auto', 'cpu', 'cuda'],
    doc: 'execution provider; auto takes CUDA when its provider library is installed' }),
  scanTimeoutMs: env.int('DELTA_GENERATOR_SCAN_TIMEOUT_MS', { default: 120_000, min: 1000,
    doc: 'how long a job may take to read the responses topic for what is already answered' }),
};

/** The generator's settings, read from its environment. */
export interface GeneratorSettings {
  limits: GeneratorLimits;
  model: ModelOptions;
  scanTimeoutMs: number;
}

/** Reads the generator's variables; throws one ConfigError naming every bad one. */
export function readGeneratorSettings(
  source: Record<string, string | undefined> = process.env,
): GeneratorSettings {
  const v = readEnv(generatorEnvSpec, source);
  return {
    limits: {
      maxNewTokens: v.maxNewTokens,
      maxSamples: v.maxSamples,
      maxBatchSize: v.maxBatchSize,
      defaultBatchSize: v.batchSize,
    },
    model: { threads: v.threads, device: v.device as ModelOptions['device'] },
    scanTimeoutMs: v.scanTimeoutMs,
  };
}

/** Fails with NOT_FOUND unless every named topic exists (producers do not create topics). */
async function checkTopics(ctx: ServiceContext, topics: { field: string; name: string }[]) {
  const admin = ctx.stream.admin();
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
  for (const { field, name } of topics) {
    if (!existing.has(name)) {
      throw new RpcError(Code.NOT_FOUND,
        `${field}: topic ${name} does not exist; create it first (the services do not)`);
    }
  }
}

/** Checks a spec and fills its defaults: the StartGeneration side of the service. */
async function prepare(spec: GenerationSpec, ctx: ServiceContext, settings: GeneratorSettings) {
  const v = new Violations();
  checkSpec(spec, settings.limits, v);
  v.throwIfAny();

  spec.model = await ctx.roots.resolveModel(spec.model, 'spec.model');
  checkModelFolder(spec.model, 'spec.model');
  const source = spec.prompts!.source;
  const topics = [{ field: 'spec.responses_topic', name: spec.responsesTopic }];
  if (source.case === 'file') {
    const file = await ctx.roots.resolveData(source.value, 'spec.prompts.file');
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new RpcError(Code.NOT_FOUND, `spec.prompts.file: ${file} not found`);
    }
    source.value = file;
  } else if (source.case === 'topic') {
    topics.push({ field: 'spec.prompts.topic', name: source.value });
  }
  await checkTopics(ctx, topics);
}

/** Errors the job loops let through: retriable Kafka failures become UNAVAILABLE. */
function asJobError(err: unknown): unknown {
  if (err instanceof RpcError || !(err instanceof Error)) return err;
  if ((err as { retriable?: boolean }).retriable) {
    return new RpcError(Code.UNAVAILABLE, `${err.message}; the job can be started again`, err);
  }
  return err;
}

/** A job's work: load, fence, read what is answered, then answer the rest. */
async function run(
  job: RunningJob<GenerationJob>,
  ctx: ServiceContext,
  settings: GeneratorSettings,
  metrics: GeneratorMetrics,
): Promise<void> {
  const spec = job.spec;
  const source = spec.prompts!.source;
  const model = spec.modelName;
  const fromTopic = source.case === 'topic';

  job.report({ stage: 'loading model', unit: 'prompts' });
  const dir = await ctx.roots.resolveModel(spec.model, 'spec.model');
  const lm = await loadModel(dir, settings.model);
  let writer: ResponseWriter | undefined;
  try {
    checkPromptSupport(lm, spec.rawPrompts);
    const decoding = decodingOf(spec, lm, settings.limits.maxNewTokens);
    writer = await ResponseWriter.open(ctx.stream, spec.responsesTopic,
      transactionalIdOf(job.runId, model, fromTopic ? ctx.instanceId : undefined));

    job.report({ stage: 'reading answered responses' });
    const answered = await scanAnswered(ctx.stream, spec.responsesTopic, {
      runId: job.runId, model, jobId: job.jobId, timeoutMs: settings.scanTimeoutMs,
      signal: job.signal,
    });
    if (job.signal.aborted) return;
    const tally = new Tally(job.status, metrics, model);
    tally.restore(answered.own, fromTopic);

    const work: JobWork = { job, lm, decoding, writer, answered, tally, model };
    if (source.case === 'file') {
      const file = await ctx.roots.resolveData(source.value, 'spec.prompts.file');
      await runFileSource(work, file);
    } else if (source.case === 'topic') {
      await runTopicSource(work, ctx.stream, source.value, promptsGroupId(job.runId, model));
    }
  } catch (err) {
    throw asJobError(err);
  } finally {
    await writer?.close();
    await lm.dispose();
  }
}

/**
 * The generator service, with its settings read from `source` (process.env by default); a
 * ConfigError names every bad variable. One job runs at a time unless DELTA_JOB_CONCURRENCY
 * says otherwise: each job holds its own model in memory.
 */
export function createGeneratorService(
  source: Record<string, string | undefined> = process.env,
): JobServiceDefinition<GenerationJob> {
  const settings = readGeneratorSettings(source);
  let metrics: GeneratorMetrics | undefined;
  return {
    name: 'generator',
    defaultPort: GENERATOR_PORT,
    kind: GENERATION,
    service: GeneratorService,
    prepare: (spec, ctx) => prepare(spec, ctx, settings),
    run: (job, ctx) => {
      metrics ??= createMetrics(ctx.telemetry.meter());
      return run(job, ctx, settings, metrics);
    },
  };
}
