// Attribute names for generative-AI spans and metrics, kept in one place because the OpenTelemetry
// GenAI semantic conventions are still experimental and may rename them. Copied from the
// conventions' registry (gen_ai.*) as of semantic-conventions 1.45; Delta's own names are delta.*.

/** Kind of operation: "chat", "text_completion", "embeddings"; Delta uses "text_completion". */
export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** The serving framework; Delta reports "onnxruntime" or "delta-engine". */
export const GEN_AI_SYSTEM = 'gen_ai.system';
/** Model the request asked for (a model folder's name). */
export const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
/** Model that answered, when it differs from the requested one. */
export const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const GEN_AI_REQUEST_TOP_K = 'gen_ai.request.top_k';
export const GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
/** Why generation stopped, one entry per choice ("stop", "length"). */
export const GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** Prompt tokens read. */
export const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
/** Completion tokens written. */
export const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
/** Histogram metric: tokens per request, split by gen_ai.token.type ("input" | "output"). */
export const GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
/** Histogram metric: seconds per generation request. */
export const GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
/** Histogram metric: seconds to the first output token. */
export const GEN_AI_SERVER_TIME_TO_FIRST_TOKEN = 'gen_ai.server.time_to_first_token';
/** Histogram metric: seconds per output token after the first. */
export const GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN = 'gen_ai.server.time_per_output_token';

/** Delta's own attributes: which run and job a span or record belongs to. */
export const DELTA_RUN_ID = 'delta.run_id';
export const DELTA_JOB_ID = 'delta.job_id';
export const DELTA_PROMPT_ID = 'delta.prompt_id';
export const DELTA_PAIR_ID = 'delta.pair_id';
/** Training step number (trainer spans and metrics). */
export const DELTA_STEP = 'delta.step';
