// Bootstrap confidence intervals and the comparison ("delta") table.
import { describe, expect, it } from 'vitest';

import { bootstrapMetric, comparisonTable, renderJson, renderMarkdown, type TaskResult } from '../src/index.js';

const outcomes = (correct: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ num: i < correct ? 1 : 0, den: 1 }));

describe('bootstrapMetric', () => {
  it('reports the value, n and an interval around the value', () => {
    const m = bootstrapMetric('acc', outcomes(70, 100));
    expect(m).toMatchObject({ name: 'acc', value: 0.7, n: 100 });
    // A binomial 95% interval at p = 0.7, n = 100 is about +-0.09.
    expect(m.ciLow).toBeGreaterThan(0.6);
    expect(m.ciLow).toBeLessThan(0.65);
    expect(m.ciHigh).toBeGreaterThan(0.75);
    expect(m.ciHigh).toBeLessThan(0.8);
  });

  it('is the same for the same seed and differs for another', () => {
    const items = outcomes(37, 80);
    expect(bootstrapMetric('acc', items, { seed: 3 })).toEqual(bootstrapMetric('acc', items, { seed: 3 }));
    expect(bootstrapMetric('acc', items, { seed: 4 })).not.toEqual(bootstrapMetric('acc', items, { seed: 3 }));
  });

  it('narrows as n grows', () => {
    const width = (n: number) => {
      const m = bootstrapMetric('acc', outcomes(n / 2, n));
      return m.ciHigh - m.ciLow;
    };
    expect(width(1000)).toBeLessThan(width(100) / 2.5);
  });

  it('resamples whole items for a ratio metric', () => {
    const m = bootstrapMetric('inst', [{ num: 2, den: 2 }, { num: 0, den: 1 }, { num: 1, den: 3 }]);
    expect(m.value).toBeCloseTo(3 / 6, 12);
    expect(m.ciLow).toBeGreaterThanOrEqual(0);
    expect(m.ciHigh).toBeLessThanOrEqual(1);
  });

  it('has a zero-width interval when every item agrees, and NaN for no items', () => {
    expect(bootstrapMetric('acc', outcomes(10, 10))).toMatchObject({ value: 1, ciLow: 1, ciHigh: 1 });
    expect(bootstrapMetric('acc', []).value).toBeNaN();
  });
});

describe('comparison table', () => {
  const result = (task: string, metric: string, value: number): TaskResult => ({
    task,
    primaryMetric: metric,
    metrics: [{ name: metric, value, ciLow: value - 0.02, ciHigh: value + 0.02, n: 100 },
      { name: 'other', value: 0, ciLow: 0, ciHigh: 0, n: 100 }],
  });
  const table = comparisonTable([
    { label: 'student before', results: [result('gsm8k', 'exact_match_flexible', 0.5), result('ifeval', 'prompt_level_strict_acc', 0.6)] },
    { label: 'DPO on weak pairs', results: [result('ifeval', 'prompt_level_strict_acc', 0.7)] },
  ]);

  it('has one column per task primary metric and a row per model, missing cells null', () => {
    expect(table.columns).toEqual([
      { task: 'gsm8k', metric: 'exact_match_flexible' },
      { task: 'ifeval', metric: 'prompt_level_strict_acc' },
    ]);
    expect(table.rows[1]!.cells[0]).toBeNull();
    expect(table.rows[1]!.cells[1]!.value).toBe(0.7);
  });

  it('renders Markdown with percentages and intervals', () => {
    expect(renderMarkdown(table)).toBe([
      '| model | gsm8k exact_match_flexible | ifeval prompt_level_strict_acc |',
      '| --- | --- | --- |',
      '| student before | 50.0 (48.0-52.0) | 60.0 (58.0-62.0) |',
      '| DPO on weak pairs | - | 70.0 (68.0-72.0) |',
      '',
    ].join('\n'));
  });

  it('renders JSON with snake_case interval fields', () => {
    const json = JSON.parse(renderJson(table));
    expect(json.rows[0].cells[0]).toEqual({ metric: 'exact_match_flexible', value: 0.5, ci_low: 0.48, ci_high: 0.52, n: 100 });
    expect(json.rows[1].cells[0]).toBeNull();
  });
});
