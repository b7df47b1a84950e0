// @delta/evaluator: the evaluator service (evaluation jobs and the Score call over gRPC) and the
// adapter that serves libs/evals tasks from a libs/lm model on ONNX Runtime.
export * from './definition.js';
export {
  lmEvalModel,
  promptInput,
  promptSeed,
  type BatchFigures,
  type LmEvalModelOptions,
} from './lm-model.js';
export { toServiceError } from './errors.js';
export {
  MAX_FEWSHOT,
  MAX_STOP_STRINGS,
  MAX_TASKS,
  planEvaluation,
  type EvaluationPlan,
  type TaskPlan,
} from './spec.js';
