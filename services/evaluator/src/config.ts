// The evaluator's own environment variables: how a job runs its model and the per-request
// limits that keep one request from taking the service. The runtime's variables (port, Kafka,
// roots) are declared by @delta/service.
import { env, readEnv, type EnvValues } from '@delta/rpc';
import { jobServiceEnvSpec } from '@delta/service';

/** Default gRPC port of the evaluator. */
export const EVALUATOR_PORT = 50054;

/** Variables only the evaluator reads. */
export const evaluatorSettingsSpec = {
  threads: env.int('DELTA_EVALUATOR_THREADS', {
    default: 0, min: 0, max: 1024,
    doc: 'ONNX Runtime intra-op threads of a job; 0 lets ONNX Runtime choose (every core)',
  }),
  executionProvider: env.string('DELTA_EVALUATOR_EXECUTION_PROVIDER', {
    default: 'auto', oneOf: ['auto', 'cpu', 'cuda'],
    doc: 'where models run; auto takes CUDA when its provider library is installed',
  }),
  batchSize: env.int('DELTA_EVALUATOR_BATCH_SIZE', {
    default: 8, min: 1, max: 4096,
    doc: 'requests per model call when spec.batch_size is 0',
  }),
  maxBatchSize: env.int('DELTA_EVALUATOR_MAX_BATCH_SIZE', {
    default: 64, min: 1, max: 4096,
    doc: 'largest spec.batch_size a request may ask for',
  }),
  maxNewTokens: env.int('DELTA_EVALUATOR_MAX_NEW_TOKENS', {
    default: 4096, min: 1, max: 1_000_000,
    doc: 'largest sampling.max_new_tokens a task may ask for',
  }),
  maxScoreItems: env.int('DELTA_EVALUATOR_MAX_SCORE_ITEMS', {
    default: 20_000, min: 1, max: 10_000_000,
    doc: 'most items one Score call may carry',
  }),
  maxBootstrapSamples: env.int('DELTA_EVALUATOR_MAX_BOOTSTRAP_SAMPLES', {
    default: 100_000, min: 1, max: 10_000_000,
    doc: 'largest bootstrap_samples a request may ask for',
  }),
};

/** The evaluator's settings, read once at start. */
export type EvaluatorSettings = EnvValues<typeof evaluatorSettingsSpec>;

/** Every variable the evaluator process reads: the shared runtime's and its own. */
export const evaluatorEnvSpec = {
  ...jobServiceEnvSpec('evaluator', EVALUATOR_PORT),
  ...evaluatorSettingsSpec,
};

/** Reads the evaluator's own variables; a ConfigError lists every bad one. */
export function readEvaluatorSettings(
  source: Record<string, string | undefined> = process.env,
): EvaluatorSettings {
  return readEnv(evaluatorSettingsSpec, source);
}
