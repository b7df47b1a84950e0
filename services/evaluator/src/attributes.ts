// The evaluator's own span and metric attribute names (delta.eval.*), kept in one place beside
// the gen_ai.* names that @delta/telemetry holds.

/** Task name ("gsm8k"). */
export const DELTA_EVAL_TASK = 'delta.eval.task';
/** Items a task evaluates. */
export const DELTA_EVAL_ITEMS = 'delta.eval.items';
/** Worked examples before each item. */
export const DELTA_EVAL_NUM_FEWSHOT = 'delta.eval.num_fewshot';
/** Requests in one model call. */
export const DELTA_EVAL_BATCH_SIZE = 'delta.eval.batch_size';
/** Kind of model call: "generate" or "log_likelihood". */
export const DELTA_EVAL_OPERATION = 'delta.eval.operation';
