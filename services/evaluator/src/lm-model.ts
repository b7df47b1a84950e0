// Serves libs/evals' model interfaces (generation and log-likelihood) from a libs/lm
// LanguageModel on ONNX Runtime. Every conversation reaches the model through one function,
// `promptInput`, on both paths, so a task scores the same whichever way it asks (the model
// folder's chat template, or the plain template for a model without one). It forms no batches
// of its own: each call decodes the requests it is handed, at the batch size it is handed.
import {
  EvalError,
  plainTemplate,
  renderPrompt,
  type ChatMessage,
  type ChatModel,
  type GenerationResult,
  type LogLikelihoodResult,
  type SamplingParams,
} from '@delta/evals';
import type {
  GenerationRequest as LmGenerationRequest,
  LanguageModel,
  PromptInput,
} from '@delta/lm';
import {
  GEN_AI_OPERATION_NAME,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_RESPONSE_FINISH_REASONS,
  GEN_AI_SYSTEM,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
} from '@delta/telemetry';
import { trace, type Span } from '@opentelemetry/api';
import { DELTA_EVAL_BATCH_SIZE } from './attributes.js';

/** Figures of one model call, for the service's metrics. */
export interface BatchFigures {
  operation: 'generate' | 'log_likelihood';
  requests: number;
  inputTokens: number;
  outputTokens: number;
  seconds: number;
}

/** How the adapter reports and stops; all optional. */
export interface LmEvalModelOptions {
  /** Name reported to tasks and on spans; default the model folder's base name. */
  name?: string;
  /** Aborting ends the running batch early and makes the next call throw an AbortError. */
  signal?: AbortSignal;
  /** Called after each model call. */
  onBatch?: (figures: BatchFigures) => void;
}

const tracer = trace.getTracer('delta-evaluator');

/**
 * The one place where a task's conversation becomes a libs/lm prompt. With a chat template the
 * messages go to the model as they are and LanguageModel.promptIds renders them (the template
 * writes BOS itself, so no second one is added); without one they are joined by the plain
 * template and encoded as raw text, which adds the tokenizer's BOS.
 */
export function promptInput(lm: LanguageModel, messages: readonly ChatMessage[]): PromptInput {
  const tokenizer = lm.files.tokenizer;
  if (!tokenizer) {
    throw new EvalError('FAILED_PRECONDITION',
      'the model folder has no tokenizer.json; tasks send text, so the evaluator needs one');
  }
  if (!tokenizer.hasChatTemplate) return { prompt: renderPrompt(plainTemplate, messages) };
  if (messages.length === 0 || messages[messages.length - 1]!.role !== 'user') {
    throw new EvalError('INVALID_ARGUMENT', 'a prompt must end with a user message');
  }
  return { messages };
}

/**
 * A seed for one prompt, from the task's seed and the prompt itself: each item draws its own
 * stream, and the stream never depends on which batch the item landed in.
 */
export function promptSeed(seed: number, messages: readonly ChatMessage[]): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(JSON.stringify(messages), 'utf8')) {
    h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  }
  return BigInt.asUintN(64, h ^ BigInt(seed));
}

function lmRequest(lm: LanguageModel, request: {
  id?: string;
  messages: ChatMessage[];
  sampling: SamplingParams;
}): LmGenerationRequest {
  const { sampling } = request;
  return {
    ...promptInput(lm, request.messages),
    ...(request.id !== undefined ? { id: request.id } : {}),
    sampling: {
      temperature: sampling.temperature ?? 0,
      topK: sampling.topK ?? 0,
      topP: sampling.topP ?? 1,
    },
    ...(sampling.seed !== undefined ? { seed: promptSeed(sampling.seed, request.messages) } : {}),
    ...(sampling.maxNewTokens !== undefined ? { maxNewTokens: sampling.maxNewTokens } : {}),
    stop: sampling.stop ?? [],
  };
}

function stopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DOMException('the evaluation was stopped', 'AbortError');
}

async function inSpan<T>(name: string, attributes: Record<string, string | number>,
  work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Gives a loaded LanguageModel the chat-level interfaces tasks call. Calls must not overlap
 * (the model's ONNX session serves one decoding loop at a time); the runner awaits each batch.
 */
export function lmEvalModel(lm: LanguageModel, options: LmEvalModelOptions = {}): ChatModel {
  const name = options.name ?? 'model';
  const system = lm.decoder.executionProvider === 'cuda' ? 'onnxruntime-cuda' : 'onnxruntime';
  const base = { [GEN_AI_SYSTEM]: system, [GEN_AI_REQUEST_MODEL]: name };

  return {
    name,
    async generate(requests, { batchSize }): Promise<GenerationResult[]> {
      stopped(options.signal);
      const batch = requests.map((r) => lmRequest(lm, r));
      return inSpan('generate batch', {
        ...base, [GEN_AI_OPERATION_NAME]: 'text_completion', [DELTA_EVAL_BATCH_SIZE]: batch.length,
      }, async (span) => {
        const started = performance.now();
        const out = await lm.generate(batch, {
          batchSize, ...(options.signal ? { signal: options.signal } : {}),
        });
        stopped(options.signal);
        const results = out.map(([first]) => first!);
        const inputTokens = results.reduce((n, r) => n + r.promptTokens, 0);
        const outputTokens = results.reduce((n, r) => n + r.completionTokens, 0);
        span.setAttributes({
          [GEN_AI_USAGE_INPUT_TOKENS]: inputTokens,
          [GEN_AI_USAGE_OUTPUT_TOKENS]: outputTokens,
          [GEN_AI_RESPONSE_FINISH_REASONS]: results.map((r) => r.finishReason),
        });
        options.onBatch?.({ operation: 'generate', requests: batch.length, inputTokens,
          outputTokens, seconds: (performance.now() - started) / 1000 });
        return results.map((r) => ({ text: r.text, finishReason: r.finishReason }));
      });
    },

    async logLikelihood(requests, { batchSize }): Promise<LogLikelihoodResult[]> {
      stopped(options.signal);
      const batch = requests.map((r) => ({
        ...('messages' in r ? promptInput(lm, r.messages) : { prompt: r.context }),
        ...(r.id !== undefined ? { id: r.id } : {}),
        continuation: r.continuation,
      }));
      return inSpan('log-likelihood batch', {
        ...base, [DELTA_EVAL_BATCH_SIZE]: batch.length,
      }, async (span) => {
        const started = performance.now();
        const out = await lm.logLikelihood(batch, { batchSize });
        const inputTokens = out.reduce((n, r) => n + r.contextTokens + r.continuationTokens, 0);
        span.setAttribute(GEN_AI_USAGE_INPUT_TOKENS, inputTokens);
        options.onBatch?.({ operation: 'log_likelihood', requests: batch.length, inputTokens,
          outputTokens: 0, seconds: (performance.now() - started) / 1000 });
        return out.map((r) => ({ logprob: r.logProb, isGreedy: r.isGreedy }));
      });
    },
  };
}
