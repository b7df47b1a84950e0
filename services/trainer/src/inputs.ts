// The inputs of a training run, made once per start: the snapshot's pairs as token ids (with
// the drops counted and the held-out pairs split off) and their reference log-probs under the
// student, cached in chunks. It trains nothing.
import {
  Model, referenceLogProbs, type ReferenceLogProb,
} from '@delta/engine';
import { Code, RpcError } from '@delta/rpc';
import { splitEval, type DataSnapshot } from './dataset.js';
import { toJobError } from './errors.js';
import type { TrainingSettings } from './presets.js';
import type { RunDir } from './run-dir.js';
import { PairTokenizer, TokenizerSetupError, type TokenizedPair } from './tokenize.js';

/** What the inputs depend on. */
export interface InputOptions {
  studentDir: string;
  settings: TrainingSettings;
  reversePairs: boolean;
}

/** Tokenized data of a run: training pairs, evaluation pairs, and what was dropped. */
export interface PreparedData {
  train: TokenizedPair[];
  /** Held-out pairs; empty when none are held out (evaluation then uses training pairs). */
  held: TokenizedPair[];
  dropped: Map<string, number>;
  rejected: string[];
  tokenizerIdentity: string;
}

/** Tokenizes the snapshot's pairs and splits them into training and held-out pairs. */
export function prepareData(run: InputOptions, snapshot: DataSnapshot): PreparedData {
  let tokenizer: PairTokenizer;
  try {
    tokenizer = PairTokenizer.fromFolder(run.studentDir);
  } catch (err) {
    if (!(err instanceof TokenizerSetupError)) throw toJobError(err, 'spec.student');
    throw new RpcError(Code.FAILED_PRECONDITION, `spec.student: ${err.message}`, err);
  }
  const dropped = new Map<string, number>();
  const count = (reason: string, n = 1) => dropped.set(reason, (dropped.get(reason) ?? 0) + n);
  if (snapshot.source.rejected.length > 0) count('malformed', snapshot.source.rejected.length);
  if (snapshot.source.duplicates > 0) count('duplicate', snapshot.source.duplicates);

  const kept: TokenizedPair[] = [];
  for (const pair of snapshot.pairs) {
    const sides = run.reversePairs
      ? { ...pair, chosen: pair.rejected, rejected: pair.chosen } : pair;
    const result = tokenizer.tokenize(sides, run.settings.maxLength);
    if ('dropped' in result) count(result.dropped);
    else kept.push(result.pair);
  }
  const split = splitEval(kept.length, run.settings.evalFraction, run.settings.seed);
  return {
    train: split.train.map((i) => kept[i]!),
    held: split.evaluation.map((i) => kept[i]!),
    dropped,
    rejected: snapshot.source.rejected,
    tokenizerIdentity: tokenizer.identity,
  };
}

/** Loads the student; a folder the engine cannot read fails the job naming spec.student. */
export async function loadModel(
  dir: string, threads: number, device: 'cpu' | 'cuda' = 'cpu',
): Promise<Model> {
  try {
    return await Model.load(dir, { threads, device });
  } catch (err) {
    throw toJobError(err, 'spec.student');
  }
}

/**
 * Reference log-probs of every pair under the student, computed in chunks of
 * `referenceChunk` pairs, each cached on its own: a stopped job keeps the chunks it finished,
 * and a resumed job reads them all back. Undefined when the job was stopped meanwhile.
 */
export async function cacheReference(
  run: {
    settings: TrainingSettings;
    referenceChunk: number;
    signal: AbortSignal;
    report(progress: { stage: string }): void;
  },
  dir: RunDir,
  student: Model,
  pairs: readonly TokenizedPair[],
  tokenizerIdentity: string,
): Promise<{ values: ReferenceLogProb[]; keys: string[]; cached: boolean } | undefined> {
  const digest = student.digest();
  const values: ReferenceLogProb[] = [];
  const keys: string[] = [];
  let cached = true;
  for (let i = 0; i < pairs.length; i += run.referenceChunk) {
    if (run.signal.aborted) return undefined;
    run.report({ stage: `caching reference log-probs (${i} of ${pairs.length} pairs)` });
    const chunk = pairs.slice(i, i + run.referenceChunk)
      .map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }));
    const result = await referenceLogProbs(student, chunk, {
      cacheDir: dir.referenceDir,
      tokenization: tokenizerIdentity,
      modelDigest: digest,
      maxLength: run.settings.maxLength,
      batchSize: Math.max(2, run.settings.microBatchSize * 2),
    }).catch((err: unknown) => { throw toJobError(err, 'caching reference log-probs'); });
    values.push(...result.values);
    keys.push(result.key);
    cached &&= result.cached;
  }
  return { values, keys, cached };
}
