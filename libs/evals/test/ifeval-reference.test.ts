// IFEval on GPT-4's published response set: every instruction verdict matches the reference
// checker's (golden file, see golden/README.md), and the four accuracies match the published
// figures for this response set (prompt-level strict about 77%, loose about 80%).
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

import { getTask, scoreFiles, type ScoreReport } from '../src/index.js';
import { shared, testFile } from './support/paths.js';

interface Golden {
  key: number;
  strict: boolean[];
  loose: boolean[];
}

const golden = readFileSync(testFile('golden/ifeval_gpt4.jsonl'), 'utf8')
  .trim().split('\n').map((l) => JSON.parse(l) as Golden);

describe('IFEval on the GPT-4 response set', () => {
  let report: ScoreReport;
  beforeAll(async () => {
    report = await scoreFiles(getTask('ifeval'), shared('data/ifeval/input_data.jsonl'),
      shared('data/ifeval/gpt4_responses.jsonl'));
  });
  const metric = (name: string) => report.result.metrics.find((m) => m.name === name)!;

  it('scores all 540 responses with no bad or missing line', () => {
    expect(report.responses).toMatchObject({ scored: 540, missing: 0, malformed: [], unmatched: [] });
  });

  it('agrees with the reference checker on every instruction, strict and loose', () => {
    const byKey = new Map(report.items.map((item) => [item.id, item.detail]));
    const disagreements: string[] = [];
    for (const g of golden) {
      const ours = byKey.get(String(g.key))!.instructions as { id: string; strict: boolean; loose: boolean }[];
      ours.forEach((v, i) => {
        if (v.strict !== g.strict[i] || v.loose !== g.loose[i]) disagreements.push(`${g.key} ${v.id}`);
      });
    }
    expect(disagreements).toEqual([]);
  });

  it('reproduces the published accuracies within half a point', () => {
    // Published for this response set (541 prompts upstream, 540 here): strict 76.9, loose 79.9.
    expect(Math.abs(metric('prompt_level_strict_acc').value - 0.769)).toBeLessThan(0.005);
    expect(Math.abs(metric('prompt_level_loose_acc').value - 0.799)).toBeLessThan(0.005);
    // Exact counts from the reference checker on these 540 prompts and 832 instructions.
    expect(metric('prompt_level_strict_acc').value).toBeCloseTo(417 / 540, 12);
    expect(metric('prompt_level_loose_acc').value).toBeCloseTo(431 / 540, 12);
    expect(metric('inst_level_strict_acc').value).toBeCloseTo(697 / 832, 12);
    expect(metric('inst_level_loose_acc').value).toBeCloseTo(713 / 832, 12);
  });

  it('reports a 95% interval around each value, over 540 prompts', () => {
    for (const m of report.result.metrics) {
      expect(m.n).toBe(540);
      expect(m.ciLow).toBeLessThan(m.value);
      expect(m.ciHigh).toBeGreaterThan(m.value);
      expect(m.ciHigh - m.ciLow).toBeLessThan(0.1);
    }
  });
});
