// Gathers a finished run into the report's data: what each stage produced, the training curves
// (the trainer's metrics.jsonl), the delta table with intervals, the comparisons the paper makes
// and the format experiment. Every figure of the Markdown and HTML reports comes from here; the
// JSON report is this object. Files it cannot read (a remote trainer's) become notes.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { ExperimentEntry, Pipeline } from '../pipeline/types.js';
import type { JobEntry, RunState, StageName } from '../run/state.js';
import { STAGES } from '../run/state.js';
import { difference, type Difference, type ItemScores, type Score } from './compare.js';

/** One row of the delta table (or a model evaluated beside it). */
export interface ModelRow {
  model: string;
  label: string;
  kind: 'student' | 'experiment' | 'teacher';
  role?: string;
}

/** A metric cell. */
export interface Cell extends Score {
  metric: string;
}

/** One point of a training curve. */
export interface CurvePoint {
  step: number;
  loss?: number;
  rewardAccuracy?: number;
  rewardMargin?: number;
}

/** A comparison the report states in words. */
export interface Comparison extends Difference {
  task: string;
  metric: string;
  rate: boolean;
  a: string;
  b: string;
  aLabel: string;
  bLabel: string;
  aValue: number;
  bValue: number;
  /** Which claim it tests: "dpo_vs_student", "dpo_vs_sft", "control_reversed", ... */
  claim: string;
}

/** Everything the report shows. */
export interface ReportData {
  run: {
    id: string;
    pipeline: string;
    file: string;
    state: string;
    createdAt: string;
    finishedAt: string;
    stageSeconds: Partial<Record<StageName, number>>;
  };
  models: ModelRow[];
  generation: Array<{ name: string; model: string; prompts: string; responses: number;
    promptsDone: number; promptsSkipped: number; outputTokens: number; tokensPerSecond: number;
    finishReasons: Record<string, number>; rejected: number }>;
  pairing: Array<{ name: string; policy: string; models: string[]; chosen?: string;
    rejected?: string; responsesRead: number; pairsWritten: number;
    dropped: Record<string, number>; file: string }>;
  training: Array<{ name: string; label: string; role: string; pairs: string; reverse: boolean;
    loss: string; steps: number; pairsUsed: number; final: CurvePoint;
    evalAccuracy: number; evalMargin: number; evalStep: number; dropped: Record<string, number>;
    curve: CurvePoint[]; evalCurve: CurvePoint[]; modelDir: string }>;
  deltaTable: {
    columns: Array<{ task: string; metric: string; rate: boolean }>;
    rows: Array<ModelRow & { cells: Array<Cell | null> }>;
  };
  comparisons: Comparison[];
  findings: string[];
  format?: {
    task: string;
    metric: string;
    rows: Array<ModelRow & { cell: Cell | null }>;
    statements: string[];
  };
  settings: {
    preset: string;
    device: string;
    experiments: Record<string, { preset: string; config: Record<string, unknown>;
      reverse: boolean }>;
    generation: Record<string, Record<string, unknown>>;
    evaluation: { tasks: Array<{ name: string; data: string; limit: number }>;
      bootstrapSamples: number; seed: number };
  };
  notes: string[];
}

type Status = Record<string, unknown>;

const num = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : Number(v));
const counts = (v: unknown): Record<string, number> =>
  Object.fromEntries(Object.entries((v ?? {}) as Record<string, unknown>).map(([k, x]) => [k, num(x)]));

/** Builds the report's data from a run's state and the files its jobs wrote. */
export function reportData(state: RunState, runDir: string): ReportData {
  const p = state.pipeline;
  const notes: string[] = [];
  const jobs = (stage: StageName) => state.stages[stage].jobs;
  const status = (entry: JobEntry | undefined): Status => (entry?.status ?? {}) as Status;

  const models = modelRows(p);
  const generation = p.generate.map((g) => {
    const s = status(jobs('generate')[g.name]);
    return {
      name: g.name, model: g.model, prompts: g.prompts, responses: num(s.responsesWritten),
      promptsDone: num(s.promptsDone), promptsSkipped: num(s.promptsSkipped),
      outputTokens: num(s.outputTokens), tokensPerSecond: num(s.tokensPerSecond),
      finishReasons: counts(s.finishReasons), rejected: ((s.rejected ?? []) as unknown[]).length,
    };
  });
  const pairing = p.pairs.map((pair) => {
    const s = status(jobs('pair')[pair.name]);
    return {
      name: pair.name, policy: pair.policy, models: pair.models,
      ...(pair.chosen ? { chosen: pair.chosen, rejected: pair.rejected! } : {}),
      responsesRead: num(s.responsesRead), pairsWritten: num(s.pairsWritten),
      // Responses of generations this pairing does not join are expected, not drops.
      dropped: withoutKey(counts(s.dropped), 'unused_model'),
      file: path.join(runDir, 'pairs', `${pair.name}.jsonl`),
    };
  });
  const training = p.experiments.map((e) => trainingRow(e, status(jobs('train')[e.name]),
    trainedConfig(jobs('train')[e.name]), notes));

  const results = new Map<string, TaskResultJson[]>();
  const items = new Map<string, Map<string, ItemScores>>();
  for (const model of p.evaluate.models) {
    const s = status(jobs('evaluate')[model]);
    results.set(model, (s.results ?? []) as TaskResultJson[]);
    items.set(model, readDetails(String(s.detailsFile ?? ''), model, notes));
  }
  const deltaTable = table(p, models, results);
  const comparisons = compare(p, deltaTable, items);
  const format = formatSection(p, models, results);

  return {
    run: {
      id: state.runId, pipeline: p.name, file: p.file, state: state.state,
      createdAt: state.createdAt, finishedAt: new Date().toISOString(),
      stageSeconds: stageSeconds(state),
    },
    models, generation, pairing, training, deltaTable, comparisons,
    findings: findings(p, comparisons, training, jobs('train')), ...(format ? { format } : {}),
    settings: {
      preset: p.train.preset, device: p.train.device,
      experiments: Object.fromEntries(p.experiments.map((e) => [e.name, { preset: e.preset,
        config: trainedConfig(jobs('train')[e.name]) ?? e.config, reverse: e.reverse }])),
      generation: Object.fromEntries(p.generate.map((g) =>
        [g.name, { model: g.model, prompts: g.prompts, ...g.sampling }])),
      evaluation: {
        tasks: p.evaluate.tasks.map((t, i) => ({ name: t.name, data: state.paths?.taskData[i] ?? '',
          limit: t.limit })),
        bootstrapSamples: p.evaluate.bootstrapSamples, seed: p.evaluate.seed,
      },
    },
    notes,
  };
}

/** The evaluated models in table order: the student, the experiments by role, the teachers. */
function modelRows(p: Pipeline): ModelRow[] {
  return p.evaluate.models.map((model): ModelRow => {
    if (model === 'student') return { model, label: 'student before tuning', kind: 'student' };
    const e = p.experiments.find((x) => x.name === model);
    if (e) return { model, label: e.label, kind: 'experiment', role: e.role };
    return { model, label: `teacher ${model}`, kind: 'teacher' };
  });
}

/** The settings a training job ran with: the trainer writes the preset's values into its spec. */
function trainedConfig(entry: JobEntry | undefined): Record<string, unknown> | undefined {
  return (entry?.spec as { config?: Record<string, unknown> } | undefined)?.config;
}

function trainingRow(e: ExperimentEntry, s: Status, config: Record<string, unknown> | undefined,
  notes: string[]): ReportData['training'][number] {
  const file = String(s.metricsFile ?? '');
  const curve: CurvePoint[] = [];
  const evalCurve: CurvePoint[] = [];
  if (file && existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const point = {
        step: num(row.step),
        ...(finite(row.loss) ? { loss: Number(row.loss) } : {}),
        ...(finite(row.reward_accuracy) ? { rewardAccuracy: Number(row.reward_accuracy) } : {}),
        ...(finite(row.reward_margin) ? { rewardMargin: Number(row.reward_margin) } : {}),
      };
      (row.split === 'step' ? curve : evalCurve).push(point);
    }
  } else if (file) {
    notes.push(`The training curves of ${e.name} are missing: ${file} is not readable here ` +
      '(a trainer on another machine keeps it).');
  }
  return {
    name: e.name, label: e.label, role: e.role, pairs: e.pairs, reverse: e.reverse,
    loss: String(config?.loss ?? e.config.loss ?? `${e.preset} preset`), steps: num(s.step),
    pairsUsed: num(s.pairsUsed),
    final: { step: num(s.step), loss: num(s.loss), rewardAccuracy: num(s.rewardAccuracy),
      rewardMargin: num(s.rewardMargin) },
    evalAccuracy: num(s.evalRewardAccuracy), evalMargin: num(s.evalRewardMargin),
    evalStep: num(s.evalStep), dropped: counts(s.dropped), curve, evalCurve,
    modelDir: String(s.modelDir ?? ''),
  };
}

function withoutKey(record: Record<string, number>, key: string): Record<string, number> {
  const { [key]: _dropped, ...rest } = record;
  return rest;
}

function finite(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}

interface TaskResultJson {
  task: string;
  primaryMetric: string;
  metrics: Array<{ name: string; value?: number; ciLow?: number; ciHigh?: number;
    n?: string | number }>;
}

function cellOf(results: TaskResultJson[] | undefined, task: string, metric?: string): Cell | null {
  const result = results?.find((r) => r.task === task);
  const name = metric ?? result?.primaryMetric;
  const m = result?.metrics.find((x) => x.name === name);
  if (!m) return null;
  return { metric: m.name, value: num(m.value), ciLow: num(m.ciLow), ciHigh: num(m.ciHigh),
    n: num(m.n) };
}

/** Whether a metric is a share (shown as a percentage): every value within [0, 1], and a name
 * that does not count things ("sections", "mean_length"). */
export function isRate(metric: string, cells: Array<Cell | null>): boolean {
  if (/count|mean|sections|length|tokens|words|number/iu.test(metric)) return false;
  return cells.every((c) => !c || (c.ciLow >= 0 && c.ciHigh <= 1 && c.value >= 0 && c.value <= 1));
}

function table(p: Pipeline, models: ModelRow[], results: Map<string, TaskResultJson[]>):
  ReportData['deltaTable'] {
  const formatTask = p.report.format?.task;
  const tasks = p.evaluate.tasks.filter((t) => t.name !== formatTask || p.evaluate.tasks.length === 1);
  const columns = tasks.map((t) => {
    const primary = [...results.values()].flat().find((r) => r.task === t.name)?.primaryMetric ?? '';
    const cells = models.map((m) => cellOf(results.get(m.model), t.name, primary || undefined));
    return { task: t.name, metric: primary, rate: isRate(primary, cells) };
  });
  return {
    columns,
    rows: models.map((m) => ({ ...m, cells: columns.map((c) =>
      cellOf(results.get(m.model), c.task, c.metric || undefined)) })),
  };
}

/** The claims a delta-learning run tests, as (claim, a, b) model pairs. */
function claims(p: Pipeline): Array<{ claim: string; a: string; b: string }> {
  const byRole = (role: string) => p.experiments.filter((e) => e.role === role).map((e) => e.name);
  const out: Array<{ claim: string; a: string; b: string }> = [];
  for (const dpo of byRole('dpo')) {
    out.push({ claim: 'dpo_vs_student', a: dpo, b: 'student' });
    for (const sft of byRole('sft')) out.push({ claim: 'dpo_vs_sft', a: dpo, b: sft });
  }
  for (const sft of byRole('sft')) out.push({ claim: 'sft_vs_student', a: sft, b: 'student' });
  for (const r of byRole('reversed')) out.push({ claim: 'control_reversed', a: r, b: 'student' });
  for (const n of byRole('no_delta')) out.push({ claim: 'control_no_delta', a: n, b: 'student' });
  return out.filter((c) => p.evaluate.models.includes(c.a) && p.evaluate.models.includes(c.b));
}

function compare(p: Pipeline, t: ReportData['deltaTable'], items: Map<string, Map<string, ItemScores>>):
  Comparison[] {
  const out: Comparison[] = [];
  const row = (model: string) => t.rows.find((r) => r.model === model);
  for (const { claim, a, b } of claims(p)) {
    t.columns.forEach((column, i) => {
      const ca = row(a)?.cells[i];
      const cb = row(b)?.cells[i];
      if (!ca || !cb) return;
      const d = difference(ca, cb, { a: items.get(a)?.get(column.task),
        b: items.get(b)?.get(column.task) }, 2000, p.evaluate.seed);
      out.push({ ...d, claim, task: column.task, metric: column.metric, rate: column.rate, a, b,
        aLabel: row(a)!.label, bLabel: row(b)!.label, aValue: ca.value, bValue: cb.value });
    });
  }
  return out;
}

/**
 * Read under the generation tables: a prompt answered by an earlier attempt or run is skipped,
 * not answered again, so its responses are in the topic but not among this job's.
 */
export const GENERATION_NOTE = 'Prompts answered before were answered by an earlier attempt or ' +
  'run of the same generation; their responses are in the responses topic and count for ' +
  'pairing, not under "responses written".';

/** Formats a value of a metric: percentage points for shares, two decimals for counts. */
export function shown(value: number, rate: boolean): string {
  return rate ? (100 * value).toFixed(1) : value.toFixed(2);
}

/** "+4.0 points (95% CI +1.0 to +7.0, paired over 200 items)". */
export function shownDifference(c: Difference & { rate: boolean }): string {
  const sign = (x: number) => `${x >= 0 ? '+' : '-'}${shown(Math.abs(x), c.rate)}`;
  const unit = c.rate ? ' points' : '';
  const how = c.paired ? `paired over ${c.n} items` : `unpaired, n=${c.n}`;
  return `${sign(c.diff)}${unit} (95% CI ${sign(c.ciLow)} to ${sign(c.ciHigh)}, ${how})`;
}

function findings(p: Pipeline, comparisons: Comparison[], training: ReportData['training'],
  trainJobs: Record<string, JobEntry>): string[] {
  const lines: string[] = [];
  const about = (claim: string) => comparisons.filter((c) => c.claim === claim);
  const sentence = (c: Comparison, lead: string) =>
    `${lead} on ${c.task} (${c.metric}): ${shown(c.aValue, c.rate)} vs ${shown(c.bValue, c.rate)}, ` +
    `${shownDifference(c)}: ${c.verdict === 'higher' ? 'higher' : c.verdict === 'lower' ? 'lower'
      : 'no clear difference'}.`;

  const tally = (claim: string, what: string) => {
    const cs = about(claim);
    if (cs.length === 0) return;
    const won = cs.filter((c) => c.verdict === 'higher').length;
    const lost = cs.filter((c) => c.verdict === 'lower').length;
    lines.push(`DPO on the weak pairs ${won > 0 && lost === 0 ? 'beat' : won > 0 ? 'partly beat'
      : 'did not beat'} ${what}: higher on ${won}, lower on ${lost}, no clear difference on ` +
      `${cs.length - won - lost} of ${cs.length} task(s).`);
  };
  tally('dpo_vs_student', "the student's starting score");
  tally('dpo_vs_sft', 'the SFT-on-chosen baseline');

  const labels: Record<string, string> = {
    dpo_vs_student: 'DPO on the weak pairs vs the student before tuning',
    dpo_vs_sft: 'DPO on the weak pairs vs SFT on the chosen responses',
    sft_vs_student: 'SFT on the chosen responses vs the student before tuning',
    control_reversed: 'Control, reversed pairs, vs the student before tuning',
    control_no_delta: 'Control, no delta, vs the student before tuning',
  };
  for (const c of comparisons) lines.push(sentence(c, labels[c.claim] ?? `${c.a} vs ${c.b}`));

  if (!p.experiments.some((e) => e.role === 'dpo')) {
    lines.push('The pipeline names no experiment with role dpo, so no verdict on delta learning.');
  }

  // No gain: say so, and what this run tried, so the next run can try something else.
  const gains = about('dpo_vs_student');
  if (gains.length > 0 && !gains.some((c) => c.verdict === 'higher')) {
    const tried = training.filter((t) => t.role === 'dpo').map((t) => {
      const c = trainedConfig(trainJobs[t.name]) ?? {};
      const value = (key: string, json: string) => c[json] ?? c[key] ?? '?';
      return `${t.name}: loss ${t.loss}, beta ${String(value('beta', 'beta'))}, learning rate ` +
        `${String(value('learning_rate', 'learningRate'))}, ${t.steps} steps on ${t.pairsUsed} ` +
        `pairs (final reward accuracy ${(t.final.rewardAccuracy ?? 0).toFixed(2)}, margin ` +
        `${(t.final.rewardMargin ?? 0).toFixed(2)})`;
    });
    lines.push(`No gain from DPO on the weak pairs appears in this run. It tried ${tried.join('; ')}` +
      '; the Settings section lists every value.');
  }
  return lines;
}

function formatSection(p: Pipeline, models: ModelRow[], results: Map<string, TaskResultJson[]>):
  ReportData['format'] {
  const f = p.report.format;
  if (!f) return undefined;
  const rows = models.filter((m) => p.evaluate.tasks.find((t) => t.name === f.task)?.models
    .includes(m.model)).map((m) => ({ ...m, cell: cellOf(results.get(m.model), f.task, f.metric) }));
  const value = (model: string) => rows.find((r) => r.model === model)?.cell;
  const statements: string[] = [];
  for (const name of f.experiments) {
    const e = p.experiments.find((x) => x.name === name)!;
    const pairing = p.pairs.find((x) => x.name === e.pairs);
    const teacherOf = (gen?: string) => p.generate.find((g) => g.name === gen)?.model;
    const chosen = teacherOf(pairing?.chosen);
    const rejected = teacherOf(pairing?.rejected);
    const tuned = value(name);
    if (!tuned) {
      statements.push(`${e.label}: no ${f.metric} figure (${f.task} did not run on ${name}).`);
      continue;
    }
    const figure = (what: string, model: string | undefined) => {
      const cell = model ? value(model) : undefined;
      return cell ? `${what} ${cell.value.toFixed(2)}` : '';
    };
    const parts = [figure(`the chosen teacher ${chosen}`, chosen),
      figure(`the rejected teacher ${rejected}`, rejected),
      figure('the student before tuning', 'student')].filter(Boolean);
    const teachers = [chosen, rejected].map((t) => (t ? value(t) : undefined))
      .filter((c): c is Cell => Boolean(c));
    const above = teachers.filter((c) => tuned.ciLow > c.value).length;
    const below = teachers.filter((c) => tuned.ciHigh < c.value).length;
    const verdict = teachers.length === 0 ? ''
      : above === teachers.length ? ': above both teachers'
        : below === teachers.length ? ': below both teachers'
          : ': between the teachers or within the interval of one';
    const start = value('student');
    const moved = !start ? ''
      : tuned.ciLow > start.value ? ', and above the student before tuning'
        : tuned.ciHigh < start.value ? ', and below the student before tuning'
          : ', and within its interval of the student before tuning';
    statements.push(`${e.label} (${name}): ${f.metric} ${tuned.value.toFixed(2)} (95% CI ` +
      `${tuned.ciLow.toFixed(2)}-${tuned.ciHigh.toFixed(2)}, n=${tuned.n})` +
      `${parts.length ? `; ${parts.join(', ')}` : ''}${verdict}${verdict ? moved : ''}.`);
  }
  return { task: f.task, metric: f.metric, rows, statements };
}

function readDetails(file: string, model: string, notes: string[]): Map<string, ItemScores> {
  const byTask = new Map<string, Map<string, number>>();
  if (!file) return byTask;
  if (!existsSync(file)) {
    notes.push(`Per-item scores of ${model} are missing (${file} is not readable here); its ` +
      'comparisons are unpaired.');
    return byTask;
  }
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const row = JSON.parse(line) as { task?: string; id?: string; score?: number };
      if (!row.task || row.id === undefined || !finite(row.score)) continue;
      let scores = byTask.get(row.task);
      if (!scores) byTask.set(row.task, (scores = new Map()));
      scores.set(String(row.id), row.score!);
    } catch {
      continue;
    }
  }
  return byTask;
}

function stageSeconds(state: RunState): Partial<Record<StageName, number>> {
  const out: Partial<Record<StageName, number>> = {};
  for (const stage of STAGES) {
    const s = state.stages[stage];
    if (s.startedAt && s.endedAt) {
      out[stage] = (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
    }
  }
  return out;
}
