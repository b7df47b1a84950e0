// What a task needs from a model, and nothing more: batched text generation from chat messages,
// and the log-likelihood of a continuation. Model libraries implement these; evals only calls.

/** One turn of a conversation, as chat templates consume it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How to draw tokens. Defaults are the paper's: greedy (temperature 0), one sample. */
export interface SamplingParams {
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Per-request seed; the same seed gives the same text whatever else shares the batch. */
  seed?: number;
  maxNewTokens?: number;
  /** Extra stop strings; a model's own end tokens always stop generation too. */
  stop?: string[];
}

/** Why generation ended for one response. */
export type FinishReason = 'stop' | 'length' | 'cancelled';

/** One prompt to complete: the conversation so far and how to sample the reply. */
export interface GenerationRequest {
  /** The task item asked, so a model's errors can name it. */
  id?: string;
  messages: ChatMessage[];
  sampling: SamplingParams;
}

/** The reply to one request, with the stop string (if any) already cut off. */
export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
}

/**
 * A model that writes replies. Results come back in request order, one per request; batch
 * size is a throughput setting only and must never change a result.
 */
export interface GenerationModel {
  readonly name: string;
  generate(
    requests: readonly GenerationRequest[],
    options: { batchSize: number },
  ): Promise<GenerationResult[]>;
}

/**
 * A scoring request: the continuation's log-probability given either a conversation (rendered
 * with the model's chat template and its generation prompt) or raw context text.
 */
export type LogLikelihoodRequest = (
  | { messages: ChatMessage[]; continuation: string }
  | { context: string; continuation: string }
) & {
  /** The task item scored, so a model's errors can name it. */
  id?: string;
};

/** Sum of the continuation tokens' log-probs, and whether greedy decoding would produce it. */
export interface LogLikelihoodResult {
  logprob: number;
  isGreedy: boolean;
}

/** A model that scores continuations; results come back in request order. */
export interface LogLikelihoodModel {
  readonly name: string;
  logLikelihood(
    requests: readonly LogLikelihoodRequest[],
    options: { batchSize: number },
  ): Promise<LogLikelihoodResult[]>;
}
