// The HTML report: the Markdown report's content plus inline SVG charts - reward margin,
// reward accuracy and loss over training steps per experiment, and the delta table (and the
// format experiment) as bars with interval whiskers. One self-contained file, no scripts.
import { GENERATION_NOTE, shown, shownDifference, type ReportData } from './data.js';
import { barChart, escapeXml as esc, lineChart, PALETTE, type Series } from './svg.js';

function table(header: string[], rows: Array<Array<string | number>>): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`);
  return `<table><thead><tr>${th}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function fixed(value: number | undefined, digits = 3): string {
  return value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1b1b1b;line-height:1.45}table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #d4d4d4;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}figure{margin:1em 0}pre{background:#f6f6f6;padding:1em;overflow:auto;
font-size:.85em}.verdict li{margin:.3em 0}.charts{display:flex;flex-wrap:wrap;gap:1em}
.muted{color:#666;font-size:.9em}`;

/** The whole report as one HTML page. */
export function renderHtml(data: ReportData): string {
  const colors = new Map(data.models.map((m, i) => [m.model, PALETTE[i % PALETTE.length]!]));
  const parts: string[] = [];
  const { run } = data;
  const seconds = Object.entries(run.stageSeconds).map(([s, t]) => `${s} ${Math.round(t!)} s`);
  const times = seconds.length ? ` Stage times: ${esc(seconds.join(', '))}.` : '';
  parts.push(`<h1>Delta run ${esc(run.id)}</h1>`,
    `<p class="muted">Pipeline <code>${esc(run.pipeline)}</code> (${esc(run.file)}), report ` +
    `written ${esc(run.finishedAt)}.${times}</p>`);

  parts.push('<h2>Verdict</h2><ul class="verdict">',
    ...data.findings.map((f) => `<li>${esc(f)}</li>`), '</ul>');

  const t = data.deltaTable;
  parts.push('<h2>Delta table</h2>');
  if (t.columns.length) {
    parts.push(table(['model', ...t.columns.map((c) => `${c.task} ${c.metric}`)],
      t.rows.map((r) => [r.label, ...r.cells.map((c, i) => c
        ? `${shown(c.value, t.columns[i]!.rate)} (${shown(c.ciLow, t.columns[i]!.rate)}-` +
          `${shown(c.ciHigh, t.columns[i]!.rate)}), n=${c.n}` : '-')])));
    const rate = t.columns.every((c) => c.rate);
    parts.push(`<figure>${barChart({
      title: 'Delta table: score per model, with 95% intervals',
      yLabel: rate ? 'score (%)' : 'score',
      format: (v) => shown(v, rate),
      groups: t.columns.map((c, i) => ({
        label: `${c.task} ${c.metric}`,
        bars: t.rows.flatMap((r) => {
          const cell = r.cells[i];
          return cell ? [{ label: r.label, value: cell.value, lo: cell.ciLow, hi: cell.ciHigh,
            color: colors.get(r.model)! }] : [];
        }),
      })),
    })}</figure>`);
  } else {
    parts.push('<p>No evaluation task other than the format task ran.</p>');
  }

  if (data.format) {
    const f = data.format;
    parts.push('<h2>Format experiment</h2>',
      `<p>Task <code>${esc(f.task)}</code>, metric <code>${esc(f.metric)}</code>.</p><ul>`,
      ...f.statements.map((s) => `<li>${esc(s)}</li>`), '</ul>');
    parts.push(`<figure>${barChart({
      title: `${f.task}: ${f.metric} per model`, yLabel: f.metric, format: (v) => v.toFixed(2),
      groups: [{ label: f.metric, bars: f.rows.flatMap((r) => r.cell ? [{ label: r.label,
        value: r.cell.value, lo: r.cell.ciLow, hi: r.cell.ciHigh,
        color: colors.get(r.model)! }] : []) }],
    })}</figure>`);
  }

  if (data.comparisons.length) {
    parts.push('<h2>Comparisons</h2>', table(['comparison', 'task', 'scores', 'difference', 'verdict'],
      data.comparisons.map((c) => [`${c.aLabel} vs ${c.bLabel}`, `${c.task} ${c.metric}`,
        `${shown(c.aValue, c.rate)} vs ${shown(c.bValue, c.rate)}`, shownDifference(c), c.verdict])));
  }

  parts.push('<h2>Training</h2>', trainingCharts(data, colors));
  parts.push(table(['experiment', 'role', 'pairs', 'loss', 'steps', 'pairs used', 'final loss',
    'reward accuracy', 'reward margin', 'held-out accuracy', 'held-out margin', 'dropped'],
  data.training.map((e) => [e.label, e.role, `${e.pairs}${e.reverse ? ' (reversed)' : ''}`, e.loss,
    e.steps, e.pairsUsed, fixed(e.final.loss),
    e.loss === 'sft' ? 'n/a' : fixed(e.final.rewardAccuracy),
    e.loss === 'sft' ? 'n/a' : fixed(e.final.rewardMargin),
    fixed(e.evalAccuracy), fixed(e.evalMargin), counts(e.dropped)])));

  parts.push('<h2>Pairs</h2>', table(['pairing', 'policy', 'models', 'responses read', 'pairs',
    'dropped'], data.pairing.map((p) => [p.name, p.policy,
    p.chosen ? `${p.chosen} over ${p.rejected}` : p.models.join(', '), p.responsesRead,
    p.pairsWritten, counts(p.dropped)])));
  parts.push('<h2>Generation</h2>', table(['generation', 'model', 'prompts', 'responses written',
    'prompts answered before', 'output tokens', 'tokens/s', 'finish reasons', 'rejected prompts'],
  data.generation.map((g) => [g.name, g.model, g.prompts, g.responses, g.promptsSkipped,
    g.outputTokens, g.tokensPerSecond.toFixed(1), counts(g.finishReasons), g.rejected])),
  `<p>${esc(GENERATION_NOTE)}</p>`);

  parts.push('<h2>Settings</h2>', `<pre>${esc(JSON.stringify(data.settings, null, 2))}</pre>`);
  if (data.notes.length) {
    parts.push('<h2>Notes</h2><ul>', ...data.notes.map((n) => `<li>${esc(n)}</li>`), '</ul>');
  }
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<title>Delta run ${esc(run.id)}</title><style>${STYLE}</style></head><body>\n` +
    `${parts.join('\n')}\n</body></html>\n`;
}

function trainingCharts(data: ReportData, colors: Map<string, string>): string {
  const preference = data.training.filter((e) => e.loss !== 'sft');
  const series = (pick: (p: { rewardMargin?: number; rewardAccuracy?: number; loss?: number }) =>
    number | undefined, rows = preference): Series[] => rows.map((e) => ({
    name: e.label, color: colors.get(e.name) ?? PALETTE[0]!,
    points: e.curve.map((p) => ({ x: p.step, y: pick(p) ?? NaN })),
  }));
  const charts = [
    lineChart({ title: 'Reward margin over steps', xLabel: 'step', yLabel: 'reward margin',
      series: series((p) => p.rewardMargin) }),
    lineChart({ title: 'Reward accuracy over steps', xLabel: 'step', yLabel: 'reward accuracy',
      series: series((p) => p.rewardAccuracy) }),
    lineChart({ title: 'Loss over steps', xLabel: 'step', yLabel: 'loss',
      series: series((p) => p.loss, data.training) }),
  ];
  return `<p class="muted">Per optimizer step, from each experiment's metrics.jsonl; SFT runs ` +
    'have no rewards and appear in the loss chart only.</p>' +
    `<div class="charts">${charts.map((c) => `<figure>${c}</figure>`).join('')}</div>`;
}
