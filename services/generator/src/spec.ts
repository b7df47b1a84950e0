// Checks a GenerationSpec against the service's per-request limits and fills its defaults, and
// derives the names a job uses on Kafka (consumer group, transactional id) from run and model.
// It opens no files and touches no broker; definition.ts resolves paths and topics.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { RESPONSES_TOPIC, type GenerationSpec } from '@delta/contracts';
import { Violations } from '@delta/rpc';

/** Per-request caps and defaults, from the service's environment. */
export interface GeneratorLimits {
  maxNewTokens: number;
  maxSamples: number;
  maxBatchSize: number;
  defaultBatchSize: number;
}

/** Most stop strings one request may give. */
export const MAX_STOP_STRINGS = 16;
/** Longest stop string, in characters. */
export const MAX_STOP_LENGTH = 256;
/** Highest sampling temperature accepted; above it sampling is noise. */
export const MAX_TEMPERATURE = 10;

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Records every problem of a spec in `v` (proto field paths, "spec.sampling.n") and fills
 * defaults in place: model_name from the folder's base name, batch_size, responses_topic.
 * Paths are checked for presence only; resolving them inside the roots is the caller's part.
 */
export function checkSpec(spec: GenerationSpec, limits: GeneratorLimits, v: Violations): void {
  if (v.required('spec.model', spec.model) && !spec.modelName) {
    spec.modelName = path.basename(path.normalize(spec.model.replace(/[\\/]+$/, '')));
  }
  if (spec.modelName && !/^[^\s/\\]{1,200}$/.test(spec.modelName)) {
    v.add('spec.model_name', 'must be 1-200 characters without spaces or slashes');
  }

  const source = spec.prompts?.source;
  if (!source || source.case === undefined) {
    v.add('spec.prompts', 'required: give prompts.file or prompts.topic');
  } else if (source.case === 'file') {
    v.required('spec.prompts.file', source.value);
  } else if (v.required('spec.prompts.topic', source.value) && !TOPIC_NAME.test(source.value)) {
    v.add('spec.prompts.topic', `"${source.value}" is not a valid topic name`);
  }

  if (!spec.responsesTopic) spec.responsesTopic = RESPONSES_TOPIC;
  if (!TOPIC_NAME.test(spec.responsesTopic)) {
    v.add('spec.responses_topic', `"${spec.responsesTopic}" is not a valid topic name`);
  }

  if (spec.batchSize === 0) spec.batchSize = Math.min(limits.defaultBatchSize, limits.maxBatchSize);
  v.atMost('spec.batch_size', spec.batchSize, limits.maxBatchSize);

  const s = spec.sampling;
  if (s) {
    v.atMost('spec.sampling.max_new_tokens', s.maxNewTokens, limits.maxNewTokens);
    v.atMost('spec.sampling.n', s.n, limits.maxSamples);
    v.inRange('spec.sampling.temperature', s.temperature, 0, MAX_TEMPERATURE);
    v.inRange('spec.sampling.top_p', s.topP, 0, 1);
    v.atMost('spec.sampling.stop', s.stop.length, MAX_STOP_STRINGS);
    s.stop.forEach((stop, i) => {
      if (stop.length === 0) v.add(`spec.sampling.stop[${i}]`, 'must not be empty');
      else v.atMost(`spec.sampling.stop[${i}]`, stop.length, MAX_STOP_LENGTH);
    });
  }
}

/** Samples per prompt a spec asks for (0 means 1). */
export function samplesOf(spec: GenerationSpec): number {
  return Math.max(1, spec.sampling?.n ?? 0);
}

function kafkaSafe(text: string): string {
  return text.replace(/[^a-zA-Z0-9._-]/g, '_');
}

/** Consumer group of the replicas that share a prompts topic for one run and model. */
export function promptsGroupId(runId: string, modelName: string): string {
  return `delta.generator.${kafkaSafe(runId)}.${kafkaSafe(modelName)}`;
}

/**
 * Transactional id under which responses of one run and model are written. A later job with
 * the same id fences the earlier one, so two writers never answer the same prompts at once.
 * Replicas reading a prompts topic each add their instance id, since their partitions differ.
 */
export function transactionalIdOf(runId: string, modelName: string, instanceId?: string): string {
  const base = `delta.generator.${kafkaSafe(runId)}.${kafkaSafe(modelName)}`;
  return instanceId ? `${base}.${kafkaSafe(instanceId)}` : base;
}

/**
 * The seed of one prompt's samples: a hash of the request's seed and the prompt id, so a
 * prompt's samples depend neither on the other prompts in its batch nor on a restart.
 */
export function promptSeed(seed: bigint, promptId: string): bigint {
  return createHash('sha256').update(`${seed}/${promptId}`).digest().readBigUInt64LE(0);
}
