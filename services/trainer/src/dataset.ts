// The data set of one training run: a snapshot of the pairs read from the source, saved in the
// output folder so a resumed job trains on exactly the same pairs whatever the topic or file
// holds by then; the seeded split into training and evaluation pairs; and the seeded order of
// each epoch, from which a step's batch follows. It tokenizes nothing.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TextPair } from './tokenize.js';

/** Where the pairs came from and what reading them found. */
export interface SourceInfo {
  kind: 'topic' | 'file';
  /** The topic name or the file path read. */
  name: string;
  /** Topic: the run whose pairs were read, and the offsets read up to. */
  runId?: string;
  endOffsets?: Record<string, string>;
  /** File: SHA-256 of its bytes. */
  sha256?: string;
  /** Records or lines skipped, each with where and why ("line 7: not valid JSON"). */
  rejected: string[];
  duplicates: number;
}

/** The pairs of a run and where they came from. */
export interface DataSnapshot {
  source: SourceInfo;
  pairs: TextPair[];
}

const FORMAT = 'delta-trainer-data/1';

/** Writes the snapshot into `dir` (data/), whole or not at all. */
export async function writeSnapshot(dir: string, snapshot: DataSnapshot): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const lines = snapshot.pairs.map((p) => JSON.stringify(p)).join('\n');
  await writeFile(path.join(tmp, 'pairs.jsonl'), lines ? `${lines}\n` : '');
  const info = { format: FORMAT, pairs: snapshot.pairs.length, source: snapshot.source };
  await writeFile(path.join(tmp, 'source.json'), `${JSON.stringify(info, null, 2)}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/** Reads a snapshot written by writeSnapshot; undefined when there is none yet. */
export async function readSnapshot(dir: string): Promise<DataSnapshot | undefined> {
  const infoFile = path.join(dir, 'source.json');
  if (!existsSync(infoFile)) return undefined;
  const info = JSON.parse(await readFile(infoFile, 'utf8')) as {
    format?: string; pairs?: number; source: SourceInfo;
  };
  const text = await readFile(path.join(dir, 'pairs.jsonl'), 'utf8');
  const pairs = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TextPair);
  if (info.format !== FORMAT || info.pairs !== pairs.length) {
    throw new Error(`${dir} holds a damaged data snapshot (format ${String(info.format)}, ` +
      `${pairs.length} of ${String(info.pairs)} pairs); delete the output folder to start over`);
  }
  return { source: info.source, pairs };
}

/** A 32-bit seed for one purpose ("eval", "epoch 3") of a run's seed. */
function seedFor(seed: bigint, purpose: string): number {
  return createHash('sha256').update(`${seed}/${purpose}`).digest().readUInt32LE(0);
}

/** mulberry32: a small generator of uniform numbers in [0, 1), the same on every platform. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The numbers 0..n-1 in an order drawn from (seed, purpose) by Fisher-Yates. */
export function permutation(n: number, seed: bigint, purpose: string): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const next = generator(seedFor(seed, purpose));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Indices of the pairs held out for evaluation and of those trained on, each in data order.
 * A positive fraction holds out at least one pair and keeps at least one for training.
 */
export function splitEval(n: number, fraction: number, seed: bigint):
  { train: number[]; evaluation: number[] } {
  const count = fraction > 0 && n >= 2 ? Math.min(n - 1, Math.max(1, Math.round(n * fraction))) : 0;
  const held = new Set(permutation(n, seed, 'eval').slice(0, count));
  const train: number[] = [];
  const evaluation: number[] = [];
  for (let i = 0; i < n; i++) (held.has(i) ? evaluation : train).push(i);
  return { train, evaluation };
}

/** How a run's steps walk through its training pairs. */
export class StepPlan {
  /** Optimizer steps in one pass over the pairs (the last batch of an epoch may be smaller). */
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private readonly orders = new Map<number, number[]>();

  constructor(
    readonly pairs: number,
    readonly batchSize: number,
    readonly epochs: number,
    maxSteps: number,
    readonly seed: bigint,
  ) {
    this.stepsPerEpoch = Math.ceil(pairs / batchSize);
    const all = this.stepsPerEpoch * epochs;
    this.totalSteps = maxSteps > 0 ? Math.min(maxSteps, all) : all;
  }

  /** Epoch (0-based) of a step (1-based). */
  epochOf(step: number): number {
    return Math.floor((step - 1) / this.stepsPerEpoch);
  }

  /** Indices into the training pairs of step `step`'s batch (1-based steps). */
  batch(step: number): number[] {
    const epoch = this.epochOf(step);
    let order = this.orders.get(epoch);
    if (!order) {
      this.orders.clear();
      order = permutation(this.pairs, this.seed, `epoch ${epoch}`);
      this.orders.set(epoch, order);
    }
    const start = ((step - 1) % this.stepsPerEpoch) * this.batchSize;
    return order.slice(start, start + this.batchSize);
  }
}
