// Default Kafka topic names. Every value on them is a delta.v1 protobuf message; keys are
// prompt ids, except on the jobs topic where they are job ids.

/** Prompts to answer (Prompt), shared by generator replicas as one consumer group. */
export const PROMPTS_TOPIC = 'delta.prompts';
/** One record per (run, model, prompt, sample) (Response). */
export const RESPONSES_TOPIC = 'delta.responses';
/** Preference pairs (Pair), written transactionally by the pairer. */
export const PAIRS_TOPIC = 'delta.pairs';
/** Compacted: the latest state of every job (JobRecord), keyed by job id. */
export const JOBS_TOPIC = 'delta.jobs';
