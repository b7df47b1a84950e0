// How two evaluated models differ on one task: the difference of their scores with a 95%
// interval. With per-item details (the evaluator's details files) the interval is a paired
// bootstrap over the items both answered; without them it is built from the two models' own
// intervals as if independent, which is wider, and says so.
import { mulberry32 } from '@delta/evals';

/** A score with its interval, as the evaluator reports it. */
export interface Score {
  value: number;
  ciLow: number;
  ciHigh: number;
  n: number;
}

/** The difference a - b on one task. */
export interface Difference {
  diff: number;
  ciLow: number;
  ciHigh: number;
  /** Items behind the figure: the items both answered when paired. */
  n: number;
  paired: boolean;
  /** "higher" or "lower" when the interval excludes 0. */
  verdict: 'higher' | 'lower' | 'no clear difference';
}

/** Per-item scores of one model on one task, by item id. */
export type ItemScores = ReadonlyMap<string, number>;

/**
 * The paired difference when both models have item scores for at least two shared items,
 * else the unpaired one. `samples` resamples with a fixed seed, so a report is reproducible.
 */
export function difference(a: Score, b: Score, items?: { a?: ItemScores; b?: ItemScores },
  samples = 2000, seed = 0): Difference {
  const shared = items?.a && items.b ? [...items.a.keys()].filter((id) => items.b!.has(id)) : [];
  if (shared.length >= 2) {
    const diffs = shared.map((id) => items!.a!.get(id)! - items!.b!.get(id)!);
    return withVerdict({ ...pairedBootstrap(diffs, samples, seed), n: diffs.length, paired: true });
  }
  const half = Math.hypot((a.ciHigh - a.ciLow) / 2, (b.ciHigh - b.ciLow) / 2);
  const diff = a.value - b.value;
  return withVerdict({ diff, ciLow: diff - half, ciHigh: diff + half, n: Math.min(a.n, b.n),
    paired: false });
}

/** Mean of `diffs` and the 2.5th and 97.5th percentiles of its bootstrap distribution. */
export function pairedBootstrap(diffs: readonly number[], samples: number, seed: number):
  { diff: number; ciLow: number; ciHigh: number } {
  const n = diffs.length;
  const mean = diffs.reduce((s, d) => s + d, 0) / n;
  const random = mulberry32(seed);
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += diffs[Math.floor(random() * n)]!;
    means[s] = sum / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(samples - 1, Math.max(0, Math.round(q * (samples - 1))))]!;
  return { diff: mean, ciLow: at(0.025), ciHigh: at(0.975) };
}

function withVerdict(d: Omit<Difference, 'verdict'>): Difference {
  // A difference of exactly zero everywhere (identical answers) has a zero-width interval.
  const verdict = d.ciLow > 0 ? 'higher' : d.ciHigh < 0 ? 'lower' : 'no clear difference';
  return { ...d, verdict };
}
