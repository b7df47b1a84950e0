// @delta/generator: the generator service - a causal LM on ONNX Runtime over a prompt file or
// a prompts topic, writing one Response record per prompt and sample to the responses topic.
export {
  GENERATOR_PORT,
  createGeneratorService,
  generatorEnvSpec,
  readGeneratorSettings,
  type GeneratorSettings,
} from './definition.js';
export {
  checkSpec,
  promptSeed,
  promptsGroupId,
  samplesOf,
  transactionalIdOf,
  MAX_STOP_LENGTH,
  MAX_STOP_STRINGS,
  MAX_TEMPERATURE,
  type GeneratorLimits,
} from './spec.js';
export { checkModelFolder, loadModel, type ModelOptions } from './model.js';
export { Answered, scanAnswered, type ScanOptions } from './answered.js';
export {
  ResponseWriter,
  isFenced,
  TRANSACTION_TIMEOUT_MS,
  type ConsumedOffsets,
} from './writer.js';
export { MAX_REJECTED_LISTED, finishReasonName } from './tally.js';
export { countRecords } from './file-source.js';
