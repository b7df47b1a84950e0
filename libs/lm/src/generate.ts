// The decoding loop: runs batches of sequences (one per request and sample) through an
// OnnxDecoder with left padding and per-row position ids, reuses the KV cache across steps,
// samples each row with its own generator, and ends each response on an end token, a stop
// string, its token budget or the context length. Batches are static: a finished row leaves
// the batch (its cache rows are dropped) but no new row joins it.
//
// Shapes: B batch rows, L padded prompt length, T cached tokens, V vocabulary.
import { LmError } from './errors.js';
import { ResponseText } from './stop.js';
import { SeededRng, isGreedy, sampleToken, type SamplingParams } from './sampling.js';
import type { KvCache, OnnxDecoder } from './runtime.js';
import type { TextTokenizer } from './tokenizer.js';

/** Why a response ended. */
export type FinishReason = 'stop' | 'length' | 'cancelled';

/** One sampled response. */
export interface GenerationResult {
  /** Response text, without the end token and without a matched stop string. */
  text: string;
  /** Every generated token, including the end token or the tokens of a matched stop string. */
  tokenIds: number[];
  finishReason: FinishReason;
  /** The end token id or the stop string that ended the response, when one did. */
  stoppedBy: number | string | null;
  promptTokens: number;
  completionTokens: number;
  /** The seed this response's sampler was built from (a drawn one when the request had none). */
  seed: bigint;
}

/** A streamed piece of one response. */
export interface TokenEvent {
  request: number;
  sample: number;
  tokenId: number | null;
  /** Text made final by this token (held back while it could be the start of a stop string). */
  text: string;
  /** Set on the last event of a response. */
  finishReason: FinishReason | null;
}

/** One sequence to decode, as LanguageModel prepares it. */
export interface SequenceSpec {
  request: number;
  sample: number;
  promptIds: number[];
  sampling: SamplingParams;
  seed: bigint;
  maxNewTokens: number;
  stopStrings: string[];
  stopTokenIds: ReadonlySet<number>;
}

/** Counters a caller can read to see the cache at work. */
export interface DecodeStats {
  /** Runs of the ONNX graph. */
  modelCalls: number;
  /** Token positions fed to the graph (padding included). */
  tokensFed: number;
}

/** Settings of one decoding call. */
export interface DecodeContext {
  decoder: OnnxDecoder;
  tokenizer: TextTokenizer | null;
  maxContext: number;
  padTokenId: number;
  batchSize: number;
  /** Upper bound on logits bytes per graph run; longer prompts are prefilled in chunks. */
  logitsBudgetBytes: number;
  signal?: AbortSignal;
  onToken?: (event: TokenEvent) => void;
  stats: DecodeStats;
  /** Test hook: feed the whole sequence every step instead of reusing the cache. */
  recompute?: boolean;
}

interface Row {
  spec: SequenceSpec;
  generated: number[];
  rng: SeededRng | null;
  text: ResponseText;
  /** Left padding of this row in the current batch. */
  pad: number;
  finish: FinishReason | null;
  stoppedBy: number | string | null;
}

/** Decodes every sequence; results come back in the order of `specs`. */
export async function decodeSequences(
  specs: readonly SequenceSpec[],
  ctx: DecodeContext,
): Promise<GenerationResult[]> {
  const results = new Array<GenerationResult>(specs.length);
  // Similar prompt lengths share a batch, so little compute goes to padding.
  const order = specs
    .map((_, i) => i)
    .sort((a, b) => specs[b]!.promptIds.length - specs[a]!.promptIds.length || a - b);
  for (let start = 0; start < order.length; start += ctx.batchSize) {
    const indices = order.slice(start, start + ctx.batchSize);
    const rows = indices.map((i) => newRow(specs[i]!, ctx));
    if (ctx.signal?.aborted) {
      for (const row of rows) finishRow(row, 'cancelled', null, ctx);
    } else {
      await decodeBatch(rows, ctx);
    }
    rows.forEach((row, j) => {
      results[indices[j]!] = toResult(row);
    });
  }
  return results;
}

function newRow(spec: SequenceSpec, ctx: DecodeContext): Row {
  return {
    spec,
    generated: [],
    rng: isGreedy(spec.sampling) ? null : new SeededRng(spec.seed, spec.sample),
    text: new ResponseText(ctx.tokenizer, spec.stopStrings),
    pad: 0,
    finish: null,
    stoppedBy: null,
  };
}

function toResult(row: Row): GenerationResult {
  return {
    text: row.text.finish(),
    tokenIds: row.generated,
    finishReason: row.finish ?? 'cancelled',
    stoppedBy: row.stoppedBy,
    promptTokens: row.spec.promptIds.length,
    completionTokens: row.generated.length,
    seed: row.spec.seed,
  };
}

function emit(ctx: DecodeContext, event: TokenEvent): void {
  try {
    ctx.onToken?.(event);
  } catch (cause) {
    // The caller's callback failed: decoding stops, and the error says whose it was.
    throw new LmError('CALLBACK_FAILED', `onToken threw: ${String(cause)}`, { cause });
  }
}

function finishRow(
  row: Row,
  reason: FinishReason,
  by: number | string | null,
  ctx: DecodeContext,
): void {
  row.finish = reason;
  row.stoppedBy = by;
  row.text.finish();
  emit(ctx, {
    request: row.spec.request,
    sample: row.spec.sample,
    tokenId: null,
    text: row.text.takeStreamable(true),
    finishReason: reason,
  });
}

/** Applies one chosen token to a row; true when the row is still going. */
function advance(row: Row, token: number, ctx: DecodeContext): boolean {
  row.generated.push(token);
  const { spec } = row;
  if (spec.stopTokenIds.has(token)) {
    finishRow(row, 'stop', token, ctx);
    return false;
  }
  const matched = row.text.push(token);
  emit(ctx, {
    request: spec.request,
    sample: spec.sample,
    tokenId: token,
    text: row.text.takeStreamable(),
    finishReason: null,
  });
  if (matched !== null) {
    finishRow(row, 'stop', matched, ctx);
    return false;
  }
  if (
    row.generated.length >= spec.maxNewTokens ||
    spec.promptIds.length + row.generated.length >= ctx.maxContext
  ) {
    finishRow(row, 'length', null, ctx);
    return false;
  }
  return true;
}

async function decodeBatch(rows: Row[], ctx: DecodeContext): Promise<void> {
  const { decoder } = ctx;
  const V = decoder.vocabSize;

  // Prefill: left-padded prompts, positions counted from each row's first real token.
  let live = rows;
  const L = Math.max(...rows.map((r) => r.spec.promptIds.length));
  for (const row of rows) row.pad = L - row.spec.promptIds.length;
  let cache = decoder.emptyCache(rows.length);
  let logits = await prefill(rows, L, ctx, (c) => {
    cache = c;
  });

  while (true) {
    const survivors: number[] = [];
    live.forEach((row, b) => {
      const rowLogits = logits.subarray(b * V, (b + 1) * V);
      const token = row.rng
        ? sampleToken(rowLogits, row.spec.sampling, row.rng)
        : argmaxOf(rowLogits);
      if (advance(row, token, ctx)) survivors.push(b);
    });
    if (survivors.length === 0) return;
    if (ctx.signal?.aborted) {
      for (const b of survivors) finishRow(live[b]!, 'cancelled', null, ctx);
      return;
    }

    if (ctx.recompute) {
      live = survivors.map((b) => live[b]!);
      logits = await recomputeStep(live, ctx);
      continue;
    }

    // Drop finished rows and the padding columns no remaining row needs.
    if (survivors.length < live.length) {
      live = survivors.map((b) => live[b]!);
      const drop = Math.min(...live.map((r) => r.pad));
      cache = decoder.compact(cache, survivors, drop);
      for (const row of live) row.pad -= drop;
    }

    const B = live.length;
    const T = cache.length + 1;
    const ids = new BigInt64Array(B);
    const mask = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B);
    live.forEach((row, b) => {
      ids[b] = BigInt(row.generated[row.generated.length - 1]!);
      mask.fill(1n, b * T + row.pad, (b + 1) * T);
      pos[b] = BigInt(row.spec.promptIds.length + row.generated.length - 1);
    });
    const out = await run(ctx, ids, mask, pos, cache);
    cache = out.cache;
    logits = out.logits;
  }
}

function argmaxOf(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

async function run(
  ctx: DecodeContext,
  ids: BigInt64Array,
  mask: BigInt64Array,
  pos: BigInt64Array,
  cache: KvCache,
) {
  ctx.stats.modelCalls++;
  ctx.stats.tokensFed += ids.length;
  return ctx.decoder.step(ids, mask, pos, cache);
}

/**
 * Runs the padded prompts through the graph, in chunks of columns when the logits of the whole
 * prompt would exceed the budget, and returns the last column's logits [B, V].
 */
async function prefill(
  rows: Row[],
  L: number,
  ctx: DecodeContext,
  setCache: (c: KvCache) => void,
): Promise<Float32Array> {
  const B = rows.length;
  const V = ctx.decoder.vocabSize;
  const chunk = Math.max(1, Math.min(L, Math.floor(ctx.logitsBudgetBytes / (B * V * 4))));
  let cache = ctx.decoder.emptyCache(B);
  let last = new Float32Array(B * V);
  for (let start = 0; start < L; start += chunk) {
    const S = Math.min(chunk, L - start);
    const T = start + S;
    const ids = new BigInt64Array(B * S).fill(BigInt(ctx.padTokenId));
    const mask = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * S).fill(1n);
    rows.forEach((row, b) => {
      mask.fill(1n, b * T + Math.min(row.pad, T), (b + 1) * T);
      for (let s = 0; s < S; s++) {
        const col = start + s - row.pad;
        if (col < 0) continue;
        ids[b * S + s] = BigInt(row.spec.promptIds[col]!);
        pos[b * S + s] = BigInt(col);
      }
    });
    const out = await run(ctx, ids, mask, pos, cache);
    cache = out.cache;
    if (start + S === L) {
      last = new Float32Array(B * V);
      for (let b = 0; b < B; b++)
        last.set(out.logits.subarray((b * S + S - 1) * V, (b * S + S) * V), b * V);
    }
  }
  setCache(cache);
  return last;
}

/** Test path: the whole sequence, prompt and response, fed again with an empty cache. */
async function recomputeStep(rows: Row[], ctx: DecodeContext): Promise<Float32Array> {
  const full = rows.map((r) => [...r.spec.promptIds, ...r.generated]);
  const L = Math.max(...full.map((f) => f.length));
  const B = rows.length;
  const V = ctx.decoder.vocabSize;
  const ids = new BigInt64Array(B * L).fill(BigInt(ctx.padTokenId));
  const mask = new BigInt64Array(B * L);
  const pos = new BigInt64Array(B * L).fill(1n);
  full.forEach((seq, b) => {
    const pad = L - seq.length;
    seq.forEach((t, i) => {
      ids[b * L + pad + i] = BigInt(t);
      mask[b * L + pad + i] = 1n;
      pos[b * L + pad + i] = BigInt(i);
    });
  });
  const out = await run(ctx, ids, mask, pos, ctx.decoder.emptyCache(B));
  const last = new Float32Array(B * V);
  for (let b = 0; b < B; b++)
    last.set(out.logits.subarray((b * L + L - 1) * V, (b * L + L) * V), b * V);
  return last;
}

/** A scored continuation: its summed log-prob and whether greedy decoding would produce it. */
export interface LogLikelihoodResult {
  logProb: number;
  isGreedy: boolean;
  contextTokens: number;
  continuationTokens: number;
}

/**
 * Scores continuations in batches: one pass over context + continuation, reading the
 * log-probs of the continuation tokens. Same padding and position rules as generation.
 */
export async function scoreContinuations(
  items: readonly { contextIds: number[]; continuationIds: number[] }[],
  ctx: DecodeContext,
): Promise<LogLikelihoodResult[]> {
  const V = ctx.decoder.vocabSize;
  const results = new Array<LogLikelihoodResult>(items.length);
  const order = items
    .map((_, i) => i)
    .sort(
      (a, b) =>
        items[b]!.contextIds.length +
          items[b]!.continuationIds.length -
          (items[a]!.contextIds.length + items[a]!.continuationIds.length) || a - b,
    );
  for (let start = 0; start < order.length; start += ctx.batchSize) {
    const idx = order.slice(start, start + ctx.batchSize);
    const seqs = idx.map((i) => [...items[i]!.contextIds, ...items[i]!.continuationIds]);
    const B = idx.length;
    const L = Math.max(...seqs.map((s) => s.length));
    const chunk = Math.max(1, Math.min(L, Math.floor(ctx.logitsBudgetBytes / (B * V * 4))));
    const sums = new Float64Array(B);
    const greedy = new Array<boolean>(B).fill(true);
    let cache = ctx.decoder.emptyCache(B);
    for (let c0 = 0; c0 < L; c0 += chunk) {
      const S = Math.min(chunk, L - c0);
      const T = c0 + S;
      const ids = new BigInt64Array(B * S).fill(BigInt(ctx.padTokenId));
      const mask = new BigInt64Array(B * T);
      const pos = new BigInt64Array(B * S).fill(1n);
      seqs.forEach((seq, b) => {
        const pad = L - seq.length;
        mask.fill(1n, b * T + Math.min(pad, T), (b + 1) * T);
        for (let s = 0; s < S; s++) {
          const col = c0 + s - pad;
          if (col >= 0) {
            ids[b * S + s] = BigInt(seq[col]!);
            pos[b * S + s] = BigInt(col);
          }
        }
      });
      const out = await run(ctx, ids, mask, pos, cache);
      cache = out.cache;
      // Column c's logits predict the token at column c + 1.
      seqs.forEach((seq, b) => {
        const pad = L - seq.length;
        const firstTarget = items[idx[b]!]!.contextIds.length;
        for (let s = 0; s < S; s++) {
          const target = c0 + s - pad + 1;
          if (target < firstTarget || target >= seq.length) continue;
          const row = out.logits.subarray((b * S + s) * V, (b * S + s + 1) * V);
          const token = seq[target]!;
          sums[b] += logSoftmaxAt(row, token);
          if (argmaxOf(row) !== token) greedy[b] = false;
        }
      });
    }
    idx.forEach((i, b) => {
      results[i] = {
        logProb: sums[b]!,
        isGreedy: greedy[b]!,
        contextTokens: items[i]!.contextIds.length,
        continuationTokens: items[i]!.continuationIds.length,
      };
    });
  }
  return results;
}

function logSoftmaxAt(row: Float32Array, token: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[token]! - max - Math.log(sum);
}
