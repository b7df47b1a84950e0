// Turns per-item scores into a task result (metrics with confidence intervals), and task results
// of several models into one comparison table, in Markdown and JSON.
import { bootstrapMetric, type BootstrapOptions, type Metric } from './stats.js';
import type { ItemScore, Task } from './task.js';

/** A task's metrics for one model, the shape the evaluator service reports. */
export interface TaskResult {
  task: string;
  primaryMetric: string;
  metrics: Metric[];
}

/** Aggregates item scores in item order; the order is fixed by the data, never by batching. */
export function summarize(task: Task, scores: readonly ItemScore[], options: BootstrapOptions = {}): TaskResult {
  return {
    task: task.name,
    primaryMetric: task.primaryMetric,
    metrics: task.metrics.map((name) =>
      bootstrapMetric(name, scores.map((s) => s.values[name] ?? { num: 0, den: 0 }), options)),
  };
}

/** One row of a comparison: a labelled model ("student before", "DPO on weak pairs"). */
export interface ComparisonRow {
  label: string;
  results: TaskResult[];
}

/** The table as data: columns are tasks' primary metrics, cells carry the interval and n. */
export interface ComparisonTable {
  columns: { task: string; metric: string }[];
  rows: { label: string; cells: (Metric | null)[] }[];
}

/** Lays rows out against the union of their tasks, in first-seen order; a missing cell is null. */
export function comparisonTable(rows: readonly ComparisonRow[]): ComparisonTable {
  const columns: { task: string; metric: string }[] = [];
  for (const row of rows) {
    for (const r of row.results) {
      if (!columns.some((c) => c.task === r.task)) columns.push({ task: r.task, metric: r.primaryMetric });
    }
  }
  return {
    columns,
    rows: rows.map((row) => ({
      label: row.label,
      cells: columns.map((c) => {
        const result = row.results.find((r) => r.task === c.task);
        return result?.metrics.find((m) => m.name === c.metric) ?? null;
      }),
    })),
  };
}

/** Markdown: values as percentages with their 95% interval, e.g. "77.2 (73.7-80.7)". */
export function renderMarkdown(table: ComparisonTable): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const head = ['model', ...table.columns.map((c) => `${c.task} ${c.metric}`)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const row of table.rows) {
    const cells = row.cells.map((m) => m ? `${pct(m.value)} (${pct(m.ciLow)}-${pct(m.ciHigh)})` : '-');
    lines.push(`| ${[row.label, ...cells].join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

/** JSON: the table as data, with snake_case names as in the service contracts. */
export function renderJson(table: ComparisonTable): string {
  return JSON.stringify({
    columns: table.columns,
    rows: table.rows.map((row) => ({
      label: row.label,
      cells: row.cells.map((m) => m && { metric: m.name, value: m.value, ci_low: m.ciLow, ci_high: m.ciHigh, n: m.n }),
    })),
  }, null, 2);
}
