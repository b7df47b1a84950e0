// Aggregates per-item scores into metrics with a percentile-bootstrap 95% confidence interval.
// Items are the resampling unit, so ratio metrics (instruction-level accuracy) resample whole
// prompts with all their instructions.
import { mulberry32 } from './random.js';

/** One figure with its 95% confidence interval and the number of items behind it. */
export interface Metric {
  name: string;
  value: number;
  ciLow: number;
  ciHigh: number;
  n: number;
}

/** An item's share of a metric: the metric is sum(num) / sum(den) over items. */
export interface Contribution {
  num: number;
  den: number;
}

/** Resampling settings; the defaults (1000 resamples, seed 0) are what reports use. */
export interface BootstrapOptions {
  samples?: number;
  seed?: number;
}

/** Default resample count for confidence intervals. */
export const DEFAULT_BOOTSTRAP_SAMPLES = 1000;

/**
 * Computes a metric and its percentile-bootstrap interval from per-item contributions.
 * Deterministic for a given seed, and independent of anything but the items and their order.
 */
export function bootstrapMetric(
  name: string,
  items: readonly Contribution[],
  options: BootstrapOptions = {},
): Metric {
  const n = items.length;
  const value = ratio(items);
  if (n === 0) return { name, value: NaN, ciLow: NaN, ciHigh: NaN, n };

  const samples = options.samples ?? DEFAULT_BOOTSTRAP_SAMPLES;
  const random = mulberry32(options.seed ?? 0);
  const estimates = new Float64Array(samples);
  for (let b = 0; b < samples; b++) {
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const item = items[Math.floor(random() * n)]!;
      num += item.num;
      den += item.den;
    }
    estimates[b] = den === 0 ? NaN : num / den;
  }
  estimates.sort();
  return {
    name,
    value,
    ciLow: samples ? quantile(estimates, 0.025) : value,
    ciHigh: samples ? quantile(estimates, 0.975) : value,
    n,
  };
}

function ratio(items: readonly Contribution[]): number {
  let num = 0;
  let den = 0;
  for (const item of items) {
    num += item.num;
    den += item.den;
  }
  return den === 0 ? NaN : num / den;
}

/** Linear-interpolated quantile of sorted values (NumPy's default method). */
function quantile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
