// Turns a batch of prompts into Response records: checks and tokenizes each prompt, decodes the
// batch on the job's LanguageModel inside one GenAI span (model, token counts, finish reasons),
// and builds one record per prompt and missing sample. Writing the records is writer.ts's part.
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  FinishReason, ResponseSchema, type GenerationSpec, type Prompt, type Response,
} from '@delta/contracts';
import { LmError, type GenerationResult, type LanguageModel, type TokenEvent } from '@delta/lm';
import { Code, RpcError } from '@delta/rpc';
import {
  DELTA_JOB_ID, DELTA_RUN_ID, GEN_AI_OPERATION_NAME, GEN_AI_REQUEST_MAX_TOKENS,
  GEN_AI_REQUEST_MODEL, GEN_AI_REQUEST_SEED, GEN_AI_REQUEST_TEMPERATURE, GEN_AI_REQUEST_TOP_K,
  GEN_AI_REQUEST_TOP_P, GEN_AI_RESPONSE_FINISH_REASONS, GEN_AI_SYSTEM,
  GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_OUTPUT_TOKENS,
} from '@delta/telemetry';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { promptSeed, samplesOf } from './spec.js';
import { finishReasonName } from './tally.js';

const tracer = trace.getTracer('delta-generator');
const ROLES = new Set(['system', 'user', 'assistant']);
const DEFAULT_MAX_NEW_TOKENS = 256;

/** A prompt ready to decode: the record, where it came from, its tokens, samples it lacks. */
export interface PromptWork {
  prompt: Prompt;
  /** "line 7" for a file, "delta.prompts[1]@42" for a topic; named in rejections. */
  where: string;
  ids: number[];
  /** Sample indexes still to write (all of 0..n-1 unless an earlier job wrote some). */
  samples: number[];
}

/** The decoding settings of a job, resolved against the model's defaults and the caps. */
export interface Decoding {
  temperature: number;
  topK: number;
  topP: number;
  seed: bigint;
  n: number;
  maxNewTokens: number;
  stop: string[];
  batchSize: number;
  rawPrompts: boolean;
}

/** Resolves a spec's sampling: 0 max_new_tokens takes the model's default, capped at `cap`. */
export function decodingOf(spec: GenerationSpec, lm: LanguageModel, cap: number): Decoding {
  const s = spec.sampling;
  const wanted = s?.maxNewTokens || lm.files.generation.maxNewTokens || DEFAULT_MAX_NEW_TOKENS;
  return {
    temperature: s?.temperature ?? 0,
    topK: s?.topK ?? 0,
    topP: s?.topP ?? 0,
    seed: s?.seed ?? 0n,
    n: samplesOf(spec),
    maxNewTokens: Math.min(wanted, cap),
    stop: [...(s?.stop ?? [])],
    batchSize: spec.batchSize,
    rawPrompts: spec.rawPrompts,
  };
}

/** Why a Prompt record cannot be answered, or null when it can. */
export function promptProblem(prompt: Prompt): string | null {
  if (!prompt.promptId) return 'prompt_id is empty';
  if (prompt.messages.length === 0) return `prompt ${prompt.promptId}: messages is empty`;
  for (const [i, m] of prompt.messages.entries()) {
    if (!ROLES.has(m.role)) {
      return `prompt ${prompt.promptId}: messages[${i}].role "${m.role}" is not ` +
        'system, user or assistant';
    }
  }
  return null;
}

/**
 * The prompt's token ids, or why it is rejected: raw prompts are the messages' texts joined by
 * blank lines (the tokenizer adds BOS); others go through the chat template. A prompt that
 * leaves no room for a response in the model's context is rejected, not decoded.
 */
export function tokenizePrompt(lm: LanguageModel, prompt: Prompt, raw: boolean): number[] | string {
  let ids: number[];
  try {
    const messages = prompt.messages.map((m) => ({ role: m.role, content: m.content }));
    ids = raw
      ? lm.promptIds({ prompt: messages.map((m) => m.content).join('\n\n') })
      : lm.promptIds({ messages });
  } catch (err) {
    if (err instanceof LmError) return `prompt ${prompt.promptId}: ${err.message}`;
    throw err;
  }
  if (ids.length >= lm.maxContext) {
    return `prompt ${prompt.promptId} has ${ids.length} tokens; the model's context is ` +
      `${lm.maxContext}, leaving no room for a response`;
  }
  return ids;
}

/** Who is asking, for the records and the span. */
export interface BatchContext {
  runId: string;
  jobId: string;
  model: string;
  signal: AbortSignal;
  /** Called now and then while decoding (a consumer keeps its group membership with it). */
  onProgress?: () => void;
}

/** A decoded batch: its records, or cancelled when the signal fired before it finished. */
export interface BatchResult {
  responses: Response[];
  cancelled: boolean;
  seconds: number;
}

const FINISH: Record<GenerationResult['finishReason'], FinishReason> = {
  stop: FinishReason.STOP,
  length: FinishReason.LENGTH,
  cancelled: FinishReason.CANCELLED,
};

/** Decodes a batch of prompts and builds one Response per prompt and missing sample. */
export async function answerBatch(
  lm: LanguageModel,
  work: readonly PromptWork[],
  d: Decoding,
  ctx: BatchContext,
): Promise<BatchResult> {
  return tracer.startActiveSpan(`text_completion ${ctx.model}`, {
    attributes: {
      [GEN_AI_OPERATION_NAME]: 'text_completion',
      [GEN_AI_SYSTEM]: 'onnxruntime',
      [GEN_AI_REQUEST_MODEL]: ctx.model,
      [GEN_AI_REQUEST_TEMPERATURE]: d.temperature,
      [GEN_AI_REQUEST_TOP_P]: d.topP || 1,
      [GEN_AI_REQUEST_TOP_K]: d.topK,
      [GEN_AI_REQUEST_MAX_TOKENS]: d.maxNewTokens,
      [GEN_AI_REQUEST_SEED]: Number(BigInt.asUintN(53, d.seed)),
      [DELTA_RUN_ID]: ctx.runId,
      [DELTA_JOB_ID]: ctx.jobId,
      'delta.generator.batch.prompts': work.length,
    },
  }, async (span) => {
    try {
      const result = await decode(lm, work, d, ctx);
      span.setAttributes({
        // Each prompt is read once, however many samples it gets.
        [GEN_AI_USAGE_INPUT_TOKENS]: work.reduce((sum, w) => sum + w.ids.length, 0),
        [GEN_AI_USAGE_OUTPUT_TOKENS]: result.responses.reduce((s, r) => s + r.completionTokens, 0),
        [GEN_AI_RESPONSE_FINISH_REASONS]: result.responses.map((r) =>
          finishReasonName(r.finishReason)),
        'delta.generator.batch.cancelled': result.cancelled,
      });
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

async function decode(
  lm: LanguageModel,
  work: readonly PromptWork[],
  d: Decoding,
  ctx: BatchContext,
): Promise<BatchResult> {
  const started = performance.now();
  let lastProgress = started;
  const onToken = ctx.onProgress
    ? (_event: TokenEvent) => {
        const now = performance.now();
        if (now - lastProgress < 1000) return;
        lastProgress = now;
        ctx.onProgress!();
      }
    : undefined;

  let results: GenerationResult[][];
  try {
    results = await lm.generate(
      work.map((w) => ({
        id: w.prompt.promptId,
        promptIds: w.ids,
        sampling: { temperature: d.temperature, topK: d.topK, topP: d.topP },
        seed: promptSeed(d.seed, w.prompt.promptId),
        n: d.n,
        maxNewTokens: d.maxNewTokens,
        ...(d.stop.length > 0 ? { stop: d.stop } : {}),
      })),
      { batchSize: d.batchSize, signal: ctx.signal, ...(onToken ? { onToken } : {}) },
    );
  } catch (err) {
    const ids = work.map((w) => w.prompt.promptId).join(', ');
    throw new RpcError(Code.INTERNAL,
      `generating for prompts ${ids} failed: ${(err as Error).message}`, err);
  }
  const seconds = (performance.now() - started) / 1000;

  const cancelled = results.some((samples) => samples.some((r) => r.finishReason === 'cancelled'));
  if (cancelled) return { responses: [], cancelled: true, seconds };

  const createdAt = timestampNow();
  const responses: Response[] = [];
  work.forEach((w, r) => {
    for (const sample of w.samples) {
      const out = results[r]![sample]!;
      responses.push(create(ResponseSchema, {
        runId: ctx.runId,
        promptId: w.prompt.promptId,
        model: ctx.model,
        sampleIndex: sample,
        prompt: w.prompt.messages,
        text: out.text,
        finishReason: FINISH[out.finishReason],
        promptTokens: out.promptTokens,
        completionTokens: out.completionTokens,
        jobId: ctx.jobId,
        createdAt,
        task: w.prompt.task,
        reference: w.prompt.reference,
        metadata: w.prompt.metadata,
      }));
    }
  });
  return { responses, cancelled: false, seconds };
}
