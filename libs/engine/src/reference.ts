// Reference log-probs of a preference data set: computed once with the reference model and
// cached on disk under a key that hashes the model's weights, the pairs' token ids, the
// caller's tokenization settings and the loss-side scoring settings. A changed input is a
// different key, so a stale cache is never read.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, toEngineError } from './errors.js';
import { pairSides, type PreferencePair } from './batch.js';
import type { Model } from './model.js';
import type { ReferenceLogProb } from './trainer.js';

/** How reference log-probs are computed and where they are cached. */
export interface ReferenceOptions {
  /** Folder for cache files; without it nothing is cached. */
  cacheDir?: string;
  /**
   * What produced the token ids (tokenizer, chat template, truncation), as any string: it
   * enters the key so a re-tokenized data set never reads an old cache.
   */
  tokenization: string;
  /** Sequences per forward pass (default 8). */
  batchSize?: number;
  /** Longest prompt + response accepted (default unlimited). */
  maxLength?: number;
  /**
   * The model's digest() when the caller already has it: a caller that caches a large data set
   * in chunks then hashes the weights once instead of once per chunk.
   */
  modelDigest?: string;
}

/** Reference log-probs, one per pair, with the cache key and whether the cache answered. */
export interface ReferenceResult {
  values: ReferenceLogProb[];
  key: string;
  cached: boolean;
}

const format = 'delta-engine-reference/1';

/** The cache key of a (model, data, tokenization, scoring) combination. */
export function referenceKey(
  modelDigest: string,
  pairs: readonly PreferencePair[],
  options: ReferenceOptions,
): string {
  const data = createHash('sha256');
  for (const p of pairs) {
    for (const side of pairSides(p)) {
      const [ids, scored] =
        'prompt' in side ? [side.prompt, side.response] : [side.ids, side.lossMask];
      data.update(Int32Array.from(ids));
      data.update('|');
      data.update(Int32Array.from(scored));
      data.update(';');
    }
  }
  // Sums and token counts serve every loss, so beta and the loss type stay out of the key;
  // what decides which tokens are scored stays in.
  const scoring = { tokens: 'response', maxLength: options.maxLength ?? null, dtype: 'float32' };
  return createHash('sha256')
    .update(
      JSON.stringify({
        format,
        model: modelDigest,
        data: data.digest('hex'),
        tokenization: options.tokenization,
        scoring,
      }),
    )
    .digest('hex');
}

/** Reference log-probs of every pair: read from the cache when present, else computed, stored. */
export async function referenceLogProbs(
  model: Model,
  pairs: readonly PreferencePair[],
  options: ReferenceOptions,
): Promise<ReferenceResult> {
  const key = referenceKey(options.modelDigest ?? model.digest(), pairs, options);
  const file = options.cacheDir ? path.join(options.cacheDir, `reference-${key}.json`) : undefined;
  if (file && existsSync(file)) {
    return { values: await readCache(file, key, pairs.length), key, cached: true };
  }

  const seqs = pairs.flatMap(pairSides);
  const scored = await model.sequenceLogProbs(seqs, {
    batchSize: options.batchSize ?? 8,
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
  });
  const values = pairs.map((_, i) => ({
    chosen: scored[2 * i]!.sum,
    rejected: scored[2 * i + 1]!.sum,
    chosenTokens: scored[2 * i]!.tokens,
    rejectedTokens: scored[2 * i + 1]!.tokens,
  }));

  if (file && options.cacheDir) {
    try {
      await mkdir(options.cacheDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ format, key, pairs: values.length, values }));
      await rename(tmp, file); // readers never see a half-written cache
    } catch (err) {
      throw toEngineError(err, `writing the reference cache ${file}`);
    }
  }
  return { values, key, cached: false };
}

async function readCache(file: string, key: string, pairs: number): Promise<ReferenceLogProb[]> {
  let parsed: { format?: string; key?: string; values?: ReferenceLogProb[] };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as typeof parsed;
  } catch (err) {
    throw toEngineError(err, `reading the reference cache ${file}`);
  }
  if (parsed.format !== format || parsed.key !== key || parsed.values?.length !== pairs) {
    throw new EngineError(
      'INVALID_STATE',
      `${file} does not hold ${pairs} reference log-probs for key ${key}; delete it to ` +
        `recompute`,
    );
  }
  return parsed.values;
}
