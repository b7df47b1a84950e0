// @delta/trainer: the trainer service - preference-tunes a student on the pairs of a run with
// the native engine, checkpoints and resumes, and exports the tuned model for serving.
export {
  checkSettings, prepareTraining, runTraining, trainerDefinition, trainerEnvSpec, trainerLimits,
} from './definition.js';
export {
  DEFAULT_PRESET, LOSSES, PRESETS, SCHEDULES, fillConfig, lengthNormalised, resolveSettings,
  type TrainingSettings,
} from './presets.js';
export {
  PairTokenizer, TokenizerSetupError, type DropReason, type TextPair, type TokenizedPair,
  type TokenizeResult,
} from './tokenize.js';
export {
  contentId, fileSnapshot, parsePairObject, readPairsJsonl, type JsonlPairs, type RejectedLine,
} from './pairs-jsonl.js';
export { readPairsTopic, TopicReadError, type TopicPairs } from './pairs-topic.js';
export {
  permutation, readSnapshot, splitEval, StepPlan, writeSnapshot, type DataSnapshot,
  type SourceInfo,
} from './dataset.js';
export { RunDir, hashOf } from './run-dir.js';
export { rewardFigures, type RewardFigures } from './evaluate.js';
export { exportModel, type ExportedModel } from './export-model.js';
export { train, trainerConfig, type TrainingOutcome, type TrainingRun } from './training.js';
export { TrainerTelemetry } from './telemetry.js';
