// The pairer's own environment variables, beside those every job service reads. Each bounds
// a resource or names where the pairer keeps its per-job Kafka state.
import { env, readEnv, type EnvValues } from '@delta/rpc';

/** Variables only the pairer reads (the deploy manifests are checked against this list). */
export const pairerEnvSpec = {
  stateTopicPrefix: env.string('DELTA_PAIRER_STATE_TOPIC_PREFIX', {
    default: 'delta.pairer.state',
    doc: 'each job keeps its join state on the compacted topic <prefix>.<job id>',
  }),
  groupPrefix: env.string('DELTA_PAIRER_GROUP_PREFIX', {
    default: 'delta.pairer',
    doc: 'consumer group and transactional id of a job: <prefix>.<job id>',
  }),
  topicPartitions: env.int('DELTA_PAIRER_TOPIC_PARTITIONS', {
    default: 1, min: 1, max: 1024,
    doc: 'partitions of a responses or pairs topic the pairer creates because it is missing',
  }),
  fetchMaxBytes: env.int('DELTA_PAIRER_FETCH_MAX_BYTES', {
    default: 1024 * 1024, min: 1024, max: 64 * 1024 * 1024,
    doc: 'largest fetch per partition; bounds the responses one transaction handles',
  }),
  sessionTimeoutMs: env.int('DELTA_PAIRER_SESSION_TIMEOUT_MS', {
    default: 10_000, min: 6000, max: 300_000,
    doc: 'consumer session timeout; how long a killed instance holds its partitions',
  }),
  restartBackoffMs: env.int('DELTA_PAIRER_RESTART_BACKOFF_MS', {
    default: 1000, min: 1, max: 60_000,
    doc: 'wait before the first restart of a job whose transaction failed; doubles each time',
  }),
  maxPending: env.int('DELTA_PAIRER_MAX_PENDING', {
    default: 1_000_000, min: 1,
    doc: 'prompts a job may hold waiting for a side before it fails RESOURCE_EXHAUSTED',
  }),
  maxModels: env.int('DELTA_PAIRER_MAX_MODELS', {
    default: 16, min: 2, max: 256,
    doc: 'models one job may join',
  }),
  importMaxBytes: env.int('DELTA_PAIRER_IMPORT_MAX_BYTES', {
    default: 512 * 1024 * 1024, min: 1,
    doc: 'largest import file; it is read into memory whole',
  }),
  importChunk: env.int('DELTA_PAIRER_IMPORT_CHUNK', {
    default: 1000, min: 1, max: 100_000,
    doc: 'imported responses written per transaction',
  }),
  readTimeoutMs: env.int('DELTA_PAIRER_READ_TIMEOUT_MS', {
    default: 120_000, min: 1000,
    doc: 'longest a job may take to read its state topic, or the pairs topic for the export',
  }),
};

/** The pairer's settings, read once at start. */
export type PairerConfig = EnvValues<typeof pairerEnvSpec>;

/** Reads the pairer's variables; throws one ConfigError naming every bad one. */
export function readPairerConfig(
  source: Record<string, string | undefined> = process.env,
): PairerConfig {
  return readEnv(pairerEnvSpec, source);
}
