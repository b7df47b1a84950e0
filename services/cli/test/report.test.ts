// The report of a finished run, from a state.json and the files its jobs wrote: the delta
// table, paired comparisons and the verdicts in words, the format experiment, training curves,
// and the three renderings. The run is made up here; the figures follow from its item scores.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evalsCatalog } from '../src/commands/run.js';
import { parsePipeline } from '../src/pipeline/parse.js';
import { resolvePaths } from '../src/pipeline/world.js';
import { difference, pairedBootstrap } from '../src/report/compare.js';
import { reportData, type ReportData } from '../src/report/data.js';
import { ticks } from '../src/report/svg.js';
import { writeReport } from '../src/report/write.js';
import { initialStages, type RunState } from '../src/run/state.js';

let dir: string;
let state: RunState;
let data: ReportData;

const PIPELINE = `name: made-up
student: models/student
teachers: { strong: models/strong, weak: models/weak }
prompts: { train: prompts.jsonl }
generate:
  strong: { model: strong, prompts: train }
  weak: { model: weak, prompts: train }
  strong-b: { model: strong, prompts: train, sampling: { temperature: 1 } }
pairs:
  weak-pairs: { chosen: strong, rejected: weak }
  same: { chosen: strong, rejected: strong-b }
train: { preset: tiny }
experiments:
  dpo: { pairs: weak-pairs, role: dpo }
  sft: { pairs: weak-pairs, role: sft, config: { loss: sft } }
  reversed: { pairs: weak-pairs, role: reversed, reverse: true }
  no-delta: { pairs: same, role: no_delta }
evaluate:
  tasks:
    - { name: gsm8k, data: eval.jsonl }
    - { name: ifeval, data: ifeval.jsonl, models: [student, dpo, strong, weak] }
report:
  format: { task: ifeval, metric: prompt_level_loose_acc, experiments: [dpo] }
`;

/** Per-item GSM8K scores of each model over ten items; no-delta has no details file. */
const ITEMS: Record<string, number[]> = {
  student: [0, 1, 0, 0, 1, 0, 0, 0, 0, 0],
  dpo: [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
  sft: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  reversed: [0, 1, 0, 0, 1, 0, 0, 0, 0, 0],
  strong: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
  weak: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};
const FORMAT: Record<string, number> = { student: 0.3, dpo: 0.9, strong: 0.5, weak: 0.4 };

function metric(name: string, value: number, ciLow: number, ciHigh: number, n: number) {
  return { name, value, ciLow, ciHigh, n: String(n) };
}

function evaluationStatus(model: string) {
  const scores = ITEMS[model] ?? [0, 1, 0, 0, 1, 0, 0, 0, 0, 0];
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const details = path.join(dir, 'eval', `${model}.details.jsonl`);
  if (ITEMS[model]) {
    writeFileSync(details, scores.map((score, i) => JSON.stringify({ task: 'gsm8k', id: String(i),
      score })).join('\n') + '\n');
  }
  const results = [{ task: 'gsm8k', primaryMetric: 'exact_match_flexible',
    metrics: [metric('exact_match_flexible', mean, Math.max(0, mean - 0.3),
      Math.min(1, mean + 0.3), 10)] }];
  if (FORMAT[model] !== undefined) {
    const f = FORMAT[model]!;
    results.push({ task: 'ifeval', primaryMetric: 'prompt_level_strict_acc',
      metrics: [metric('prompt_level_loose_acc', f, f - 0.05, f + 0.05, 20)] });
  }
  return { itemsDone: '10', itemsTotal: '10', results, detailsFile: details };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'delta-cli-report-'));
  for (const m of ['student', 'strong', 'weak']) {
    mkdirSync(path.join(dir, 'models', m), { recursive: true });
  }
  for (const f of ['prompts.jsonl', 'eval.jsonl', 'ifeval.jsonl']) {
    writeFileSync(path.join(dir, f), '{}\n');
  }
  mkdirSync(path.join(dir, 'eval'));
  const pipeline = parsePipeline(path.join(dir, 'pipe.yaml'), PIPELINE,
    { cwd: dir, tasks: evalsCatalog });

  state = {
    version: 1, runId: 'made-up-1', createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:10:00.000Z', state: 'succeeded', pipeline,
    paths: resolvePaths(pipeline),
    addresses: { generator: 'a:1', pairer: 'a:2', trainer: 'a:3', evaluator: 'a:4' },
    stages: initialStages(false),
  };
  const job = (service: 'generator' | 'pairer' | 'trainer' | 'evaluator', status: object,
    spec?: object) => ({ service, jobId: 'j', attempt: 1, state: 'SUCCEEDED',
    status: status as never, ...(spec ? { spec: spec as never } : {}) });
  for (const g of ['strong', 'weak', 'strong-b']) {
    state.stages.generate.jobs[g] = job('generator', { responsesWritten: '24', promptsDone: '24',
      outputTokens: '300', tokensPerSecond: 120.5, finishReasons: { stop: '20', length: '4' } });
  }
  state.stages.pair.jobs['weak-pairs'] = job('pairer', { responsesRead: '72', pairsWritten: '22',
    dropped: { identical: '2', unused_model: '24' } });
  state.stages.pair.jobs.same = job('pairer', { responsesRead: '72', pairsWritten: '20', dropped: {} });
  for (const e of ['dpo', 'sft', 'reversed', 'no-delta']) {
    const metrics = path.join(dir, 'train', e, 'metrics.jsonl');
    mkdirSync(path.dirname(metrics), { recursive: true });
    writeFileSync(metrics, [1, 2, 3].map((step) => JSON.stringify({ step, split: 'step',
      loss: 0.7 - 0.1 * step, reward_accuracy: step / 4, reward_margin: 0.5 * step })).join('\n') +
      `\n${JSON.stringify({ step: 3, split: 'eval', reward_accuracy: 0.8, reward_margin: 1.2 })}\n`);
    state.stages.train.jobs[e] = job('trainer', { step: 3, loss: 0.4, rewardAccuracy: 0.75,
      rewardMargin: 1.5, evalRewardAccuracy: 0.8, evalRewardMargin: 1.2, pairsUsed: '22',
      metricsFile: metrics, modelDir: path.join(dir, 'train', e, 'model') },
    { config: { loss: e === 'sft' ? 'sft' : 'dpo_norm', beta: 5 } });
  }
  for (const m of state.pipeline.evaluate.models) {
    state.stages.evaluate.jobs[m] = job('evaluator', evaluationStatus(m));
  }
  data = reportData(state, dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the comparison of two models', () => {
  it('is the mean of the paired differences, with a bootstrap interval around it', () => {
    expect(pairedBootstrap([1, 1, 1, 1], 500, 0)).toEqual({ diff: 1, ciLow: 1, ciHigh: 1 });
    const mixed = pairedBootstrap([1, 0, -1, 0], 2000, 0);
    expect(mixed.diff).toBe(0);
    expect(mixed.ciLow).toBeLessThan(0);
    expect(mixed.ciHigh).toBeGreaterThan(0);
  });

  it('without item scores combines the two intervals as if independent', () => {
    const d = difference({ value: 0.5, ciLow: 0.4, ciHigh: 0.6, n: 100 },
      { value: 0.3, ciLow: 0.2, ciHigh: 0.4, n: 90 });
    expect(d.paired).toBe(false);
    expect(d.n).toBe(90);
    expect(d.diff).toBeCloseTo(0.2, 12);
    expect(d.ciLow).toBeCloseTo(0.2 - Math.SQRT2 * 0.1, 12);
    expect(d.ciHigh).toBeCloseTo(0.2 + Math.SQRT2 * 0.1, 12);
    expect(d.verdict).toBe('higher');
  });
});

describe('the report data', () => {
  it('lays the delta table out as the paper does: student, experiments, teachers', () => {
    expect(data.deltaTable.columns)
      .toEqual([{ task: 'gsm8k', metric: 'exact_match_flexible', rate: true }]);
    expect(data.deltaTable.rows.map((r) => [r.label, r.cells[0]?.value])).toEqual([
      ['student before tuning', 0.2], ['SFT on the chosen responses', 0],
      ['DPO on the weak pairs', 0.6], ['DPO on reversed pairs (control)', 0.2],
      ['DPO without a delta: one model on both sides (control)', 0.2],
      ['teacher strong', 0.2], ['teacher weak', 0]]);
  });

  it('compares DPO with the start and with SFT on the items both answered', () => {
    const byClaim = Object.fromEntries(data.comparisons.map((c) => [c.claim, c]));
    expect(byClaim.dpo_vs_student).toMatchObject({ paired: true, n: 10, verdict: 'higher' });
    expect(byClaim.dpo_vs_student!.diff).toBeCloseTo(0.4, 12);
    expect(byClaim.dpo_vs_student!.ciLow).toBeGreaterThan(0);
    expect(byClaim.dpo_vs_sft!.diff).toBeCloseTo(0.6, 12);
    expect(byClaim.sft_vs_student).toMatchObject({ verdict: 'no clear difference' });
    expect(byClaim.control_reversed).toMatchObject({ diff: 0, ciLow: 0, ciHigh: 0,
      verdict: 'no clear difference' });
    // No details file for no-delta: its comparison is unpaired, and a note says why.
    expect(byClaim.control_no_delta).toMatchObject({ paired: false, n: 10 });
    expect(data.notes.some((n) => n.startsWith('Per-item scores of no-delta are missing'))).toBe(true);
  });

  it('states the verdicts in words with their numbers', () => {
    expect(data.findings[0]).toBe("DPO on the weak pairs beat the student's starting score: " +
      'higher on 1, lower on 0, no clear difference on 0 of 1 task(s).');
    expect(data.findings[1]).toBe('DPO on the weak pairs beat the SFT-on-chosen baseline: ' +
      'higher on 1, lower on 0, no clear difference on 0 of 1 task(s).');
    expect(data.findings.some((f) => f.startsWith('No gain'))).toBe(false);
    expect(data.findings[2]).toMatch(new RegExp('^DPO on the weak pairs vs the student before ' +
      'tuning on gsm8k \\(exact_match_flexible\\): 60\\.0 vs 20\\.0, \\+40\\.0 points \\(95% CI ' +
      '\\+\\d+\\.\\d to \\+\\d+\\.\\d, paired over 10 items\\): higher\\.$', 'u'));
  });

  it('compares the format metric of the tuned student with both teachers and its start', () => {
    expect(data.format?.rows.map((r) => [r.model, r.cell?.value])).toEqual([
      ['student', 0.3], ['dpo', 0.9], ['strong', 0.5], ['weak', 0.4]]);
    expect(data.format?.statements).toEqual(['DPO on the weak pairs (dpo): ' +
      'prompt_level_loose_acc 0.90 (95% CI 0.85-0.95, n=20); the chosen teacher strong 0.50, ' +
      'the rejected teacher weak 0.40, the student before tuning 0.30: above both teachers, and above the student before tuning.']);
  });

  it('reads the training curves and the settings the trainer ran with', () => {
    const dpo = data.training.find((t) => t.name === 'dpo')!;
    expect(dpo.loss).toBe('dpo_norm');
    expect(dpo.curve.map((p) => [p.step, p.rewardMargin])).toEqual([[1, 0.5], [2, 1], [3, 1.5]]);
    expect(dpo.evalCurve).toEqual([{ step: 3, rewardAccuracy: 0.8, rewardMargin: 1.2 }]);
    expect(data.training.find((t) => t.name === 'sft')!.loss).toBe('sft');
    expect(data.settings.experiments.dpo!.config).toEqual({ loss: 'dpo_norm', beta: 5 });
    expect(data.pairing.find((p) => p.name === 'weak-pairs')!.dropped).toEqual({ identical: 2 });
  });
});

describe('the report files', () => {
  it('are JSON, Markdown and a self-contained HTML page with five charts', async () => {
    const files = await writeReport(state, dir);
    expect(JSON.parse(readFileSync(files.json, 'utf8')).deltaTable.rows).toHaveLength(7);
    const md = readFileSync(files.markdown, 'utf8');
    expect(md).toContain('| DPO on the weak pairs | 60.0 (30.0-90.0), n=10 |');
    expect(md).toContain('## Format experiment');
    const html = readFileSync(files.html, 'utf8');
    expect(html.match(/<svg /gu)).toHaveLength(5);
    expect(html).toContain('Reward margin over steps');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/u);
  });
});

describe('chart axes', () => {
  it('use round ticks that cover the values', () => {
    expect(ticks(0, 0.73)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(ticks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(-7.2, 9.3)).toEqual([-10, -5, 0, 5, 10]);
  });
});
