// The face of @delta/lm for services: a model folder loaded once (JSON files, tokenizer, ONNX
// session) that turns requests into responses and scores continuations. Prompts reach token ids
// through one function, `promptIds`, for generation and scoring alike, so the chat template is
// applied the same way on both paths.
import { randomBytes } from 'node:crypto';
import { LmError } from './errors.js';
import {
  decodeSequences,
  scoreContinuations,
  type DecodeContext,
  type DecodeStats,
  type GenerationResult,
  type LogLikelihoodResult,
  type SequenceSpec,
  type TokenEvent,
} from './generate.js';
import { loadModelFiles, type ModelFiles } from './model-files.js';
import { OnnxDecoder, type RuntimeOptions } from './runtime.js';
import type { SamplingParams } from './sampling.js';
import type { ChatMessage } from './tokenizer.js';

/** A prompt: token ids as they are, chat messages for the template, or raw text. */
export type PromptInput =
  { promptIds: readonly number[] } | { messages: readonly ChatMessage[] } | { prompt: string };

/** One generation request; `n` samples are drawn for it. */
export type GenerationRequest = PromptInput & {
  /** Named in errors about this request. */
  id?: string;
  sampling?: SamplingParams;
  /** Seeds sample i's generator with (seed, i); drawn at random when absent. */
  seed?: number | bigint;
  /** Samples per prompt; default 1. */
  n?: number;
  /** Default: generation_config.json max_new_tokens, else 256. */
  maxNewTokens?: number;
  /** Stop strings, matched in the response text only. */
  stop?: readonly string[];
  /** End tokens added to the model's own for this request. */
  stopTokenIds?: readonly number[];
};

/** Options of one `generate` call. */
export interface GenerateOptions {
  /** Sequences decoded together; default 8. */
  batchSize?: number;
  /** Aborting ends every unfinished response with finishReason 'cancelled'. */
  signal?: AbortSignal;
  /** Called for every token of every response, and once more when a response ends. */
  onToken?: (event: TokenEvent) => void;
  /** Test hook: recompute the whole sequence each step instead of using the KV cache. */
  recompute?: boolean;
}

/** A continuation to score after a context. */
export type LogLikelihoodRequest = PromptInput & {
  id?: string;
  /** Text appended to the context, or its token ids. */
  continuation: string | readonly number[];
};

/** Options of `LanguageModel.load`. */
export interface LoadOptions extends RuntimeOptions {
  /** Cap on the logits bytes of one graph run (longer prompts prefill in chunks); 256 MiB. */
  logitsBudgetBytes?: number;
}

const DEFAULT_MAX_NEW_TOKENS = 256;

/**
 * A causal LM served from a model folder with onnx/model.onnx. Calls on one instance must not
 * overlap: the ONNX session is used by one decoding loop at a time.
 */
export class LanguageModel {
  /** Cumulative graph runs and token positions fed, across calls. */
  readonly stats: DecodeStats = { modelCalls: 0, tokensFed: 0 };

  private constructor(
    readonly files: ModelFiles,
    readonly decoder: OnnxDecoder,
    private readonly logitsBudgetBytes: number,
  ) {}

  /** Loads the folder's JSON files and opens its ONNX graph. */
  static async load(dir: string, options: LoadOptions = {}): Promise<LanguageModel> {
    const files = loadModelFiles(dir);
    const decoder = await OnnxDecoder.open(dir, files.config, options);
    return new LanguageModel(files, decoder, options.logitsBudgetBytes ?? 256 * 1024 * 1024);
  }

  /** Longest prompt + response the model takes, from config.json. */
  get maxContext(): number {
    return this.files.maxContext;
  }

  /** The model's end tokens (the union of what its files name). */
  get stopTokenIds(): ReadonlySet<number> {
    return this.files.stopTokenIds;
  }

  /**
   * Token ids of a prompt. Messages go through the chat template (ending with the assistant
   * header) and are encoded without added special tokens; raw text gets the tokenizer's
   * special tokens (BOS); token ids are taken as they are.
   */
  promptIds(input: PromptInput, name = 'prompt'): number[] {
    let ids: number[];
    if ('promptIds' in input && input.promptIds) {
      ids = [...input.promptIds];
    } else {
      const tokenizer = this.files.tokenizer;
      if (!tokenizer) {
        throw new LmError(
          'INVALID_REQUEST',
          `${name}: the model has no tokenizer.json; send promptIds`,
        );
      }
      if ('messages' in input && input.messages) {
        if (input.messages.length === 0)
          throw new LmError('INVALID_REQUEST', `${name}: messages is empty`);
        ids = tokenizer.encode(tokenizer.renderChat(input.messages, true), false);
      } else if ('prompt' in input && typeof input.prompt === 'string') {
        ids = tokenizer.encode(input.prompt, true);
      } else {
        throw new LmError('INVALID_REQUEST', `${name}: needs promptIds, messages or prompt`);
      }
    }
    if (ids.length === 0) throw new LmError('INVALID_REQUEST', `${name}: the prompt has no tokens`);
    const V = this.decoder.vocabSize;
    const bad = ids.find((t) => !Number.isInteger(t) || t < 0 || t >= V);
    if (bad !== undefined)
      throw new LmError(
        'INVALID_REQUEST',
        `${name}: token id ${bad} is outside the vocabulary of ${V}`,
      );
    return ids;
  }

  /**
   * Generates `n` responses per request; results[r][i] is sample i of request r. A prompt that
   * leaves no room in the context fails the whole call before any decoding, naming the request.
   */
  async generate(
    requests: readonly GenerationRequest[],
    options: GenerateOptions = {},
  ): Promise<GenerationResult[][]> {
    const specs: SequenceSpec[] = [];
    const copies: { from: number; request: number; sample: number }[] = [];
    const counts: number[] = [];
    requests.forEach((req, r) => {
      const name = `request ${r}${req.id ? ` (id ${req.id})` : ''}`;
      const promptIds = this.promptIds(req, name);
      if (promptIds.length >= this.maxContext) {
        throw new LmError(
          'PROMPT_TOO_LONG',
          `${name}: the prompt has ${promptIds.length} tokens; the model's context is ` +
            `${this.maxContext}, leaving no room for a response`,
        );
      }
      const sampling = validateSampling(req.sampling ?? {}, name);
      const n = req.n ?? 1;
      const maxNewTokens =
        req.maxNewTokens ?? this.files.generation.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
      if (!Number.isInteger(n) || n < 1)
        throw new LmError('INVALID_REQUEST', `${name}: n must be a positive integer`);
      if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
        throw new LmError('INVALID_REQUEST', `${name}: maxNewTokens must be a positive integer`);
      }
      const stop = [...(req.stop ?? [])];
      if (stop.some((s) => typeof s !== 'string' || s.length === 0)) {
        throw new LmError('INVALID_REQUEST', `${name}: stop strings must be non-empty strings`);
      }
      if (stop.length > 0 && !this.files.tokenizer) {
        throw new LmError('INVALID_REQUEST', `${name}: stop strings need a tokenizer.json`);
      }
      const seed =
        req.seed === undefined
          ? randomBytes(8).readBigUInt64LE()
          : BigInt.asUintN(64, BigInt(req.seed));
      const stopTokenIds = new Set([...this.files.stopTokenIds, ...(req.stopTokenIds ?? [])]);
      counts.push(n);
      // Greedy samples are all the same response: decode one, copy it.
      const greedy = !sampling.temperature;
      const first = specs.length;
      for (let i = 0; i < n; i++) {
        if (greedy && i > 0) {
          copies.push({ from: first, request: r, sample: i });
          continue;
        }
        specs.push({
          request: r,
          sample: i,
          promptIds,
          sampling,
          seed,
          maxNewTokens,
          stopStrings: stop,
          stopTokenIds,
        });
      }
    });

    const out = await decodeSequences(specs, this.context(options));
    const results: GenerationResult[][] = counts.map(() => []);
    specs.forEach((spec, i) => {
      results[spec.request]![spec.sample] = out[i]!;
    });
    for (const c of copies) {
      const src = out[c.from]!;
      results[c.request]![c.sample] = { ...src, tokenIds: [...src.tokenIds] };
    }
    return results;
  }

  /**
   * Sum of log-probs of each continuation after its context, and whether greedy decoding would
   * have produced it. The continuation's tokens are those the tokenizer gives context +
   * continuation beyond the context's own tokens, so a merge across the boundary is kept; if
   * the context's tokens are not a prefix, the two are encoded apart and joined.
   */
  async logLikelihood(
    requests: readonly LogLikelihoodRequest[],
    options: Pick<GenerateOptions, 'batchSize'> = {},
  ): Promise<LogLikelihoodResult[]> {
    const items = requests.map((req, r) => {
      const name = `request ${r}${req.id ? ` (id ${req.id})` : ''}`;
      const contextIds = this.promptIds(req, name);
      const continuationIds = this.continuationIds(req, contextIds, name);
      if (continuationIds.length === 0)
        throw new LmError('INVALID_REQUEST', `${name}: the continuation has no tokens`);
      if (contextIds.length + continuationIds.length > this.maxContext) {
        throw new LmError(
          'PROMPT_TOO_LONG',
          `${name}: context + continuation is ${contextIds.length + continuationIds.length} ` +
            `tokens; the model's context is ${this.maxContext}`,
        );
      }
      return { contextIds, continuationIds };
    });
    return scoreContinuations(items, this.context(options));
  }

  private continuationIds(req: LogLikelihoodRequest, contextIds: number[], name: string): number[] {
    if (typeof req.continuation !== 'string') return [...req.continuation];
    const tokenizer = this.files.tokenizer;
    if (!tokenizer)
      throw new LmError('INVALID_REQUEST', `${name}: a text continuation needs a tokenizer.json`);
    if ('promptIds' in req && req.promptIds) return tokenizer.encode(req.continuation, false);
    const contextText =
      'messages' in req && req.messages
        ? tokenizer.renderChat(req.messages, true)
        : (req as { prompt: string }).prompt;
    const addSpecial = !('messages' in req && req.messages);
    const whole = tokenizer.encode(contextText + req.continuation, addSpecial);
    if (whole.length > contextIds.length && contextIds.every((t, i) => whole[i] === t)) {
      return whole.slice(contextIds.length);
    }
    return tokenizer.encode(req.continuation, false);
  }

  private context(options: GenerateOptions): DecodeContext {
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new LmError('INVALID_REQUEST', 'batchSize must be a positive integer');
    const padTokenId = this.files.generation.padTokenId ?? [...this.files.stopTokenIds][0] ?? 0;
    return {
      decoder: this.decoder,
      tokenizer: this.files.tokenizer,
      maxContext: this.maxContext,
      padTokenId: padTokenId < this.decoder.vocabSize ? padTokenId : 0,
      batchSize,
      logitsBudgetBytes: this.logitsBudgetBytes,
      stats: this.stats,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onToken ? { onToken: options.onToken } : {}),
      ...(options.recompute ? { recompute: true } : {}),
    };
  }

  /** Releases the ONNX session. */
  async dispose(): Promise<void> {
    await this.decoder.dispose();
  }
}

function validateSampling(s: SamplingParams, name: string): SamplingParams {
  const t = s.temperature ?? 0;
  const k = s.topK ?? 0;
  const p = s.topP ?? 1;
  if (!Number.isFinite(t) || t < 0)
    throw new LmError('INVALID_REQUEST', `${name}: temperature must be >= 0`);
  if (!Number.isInteger(k) || k < 0)
    throw new LmError('INVALID_REQUEST', `${name}: topK must be an integer >= 0`);
  if (!Number.isFinite(p) || p < 0 || p > 1)
    throw new LmError('INVALID_REQUEST', `${name}: topP must be in [0, 1]`);
  return { temperature: t, topK: k, topP: p === 0 ? 1 : p };
}
