// @delta/engine: the native DPO engine's TypeScript face. Load or initialise a model, build a
// Trainer from a typed config, step on tokenized pairs, read metrics, save and resume.
export { EngineError, type EngineErrorCode } from './errors.js';
export { engineBackends } from './native.js';
export {
  llamaConfig,
  parseHfConfig,
  presets,
  toHfConfig,
  type Architecture,
  type ModelConfig,
  type ModelShape,
  type RopeScaling,
} from './config.js';
export {
  defaultInitStd,
  Model,
  type ForwardInputs,
  type Logits,
  type ModelOptions,
  type SequenceLogProb,
} from './model.js';
export {
  pairSides,
  type MaskedPair,
  type MaskedSequence,
  type PaddingOptions,
  type PreferencePair,
  type PromptPair,
  type PromptResponse,
  type ScoredSequence,
} from './batch.js';
export {
  paperRecipe,
  Trainer,
  type LossType,
  type PreferenceBatch,
  type ReferenceLogProb,
  type ScheduleType,
  type SftBatch,
  type StepMetrics,
  type TrainerConfig,
} from './trainer.js';
export {
  referenceKey,
  referenceLogProbs,
  type ReferenceOptions,
  type ReferenceResult,
} from './reference.js';
export {
  loadTrainerCheckpoint,
  saveTrainerCheckpoint,
  type ResumedTraining,
} from './checkpoint.js';
export { type HfSaveOptions } from './hf.js';
export { type SaveDtype } from './safetensors.js';
