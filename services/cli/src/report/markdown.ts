// The Markdown report: the verdicts in words with their numbers, the delta table with
// intervals, the format experiment, training, pairing and generation figures, and the settings.
// It renders ReportData; it computes nothing.
import { GENERATION_NOTE, shown, shownDifference, type ReportData } from './data.js';

function row(cells: Array<string | number>): string {
  return `| ${cells.map((c) => String(c).replace(/\|/gu, '\\|')).join(' | ')} |`;
}

function head(cells: string[]): string {
  return `${row(cells)}\n${row(cells.map(() => '---'))}`;
}

function fixed(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}

/** The whole report as Markdown. */
export function renderMarkdown(data: ReportData): string {
  const out: string[] = [];
  const { run } = data;
  const seconds = Object.entries(run.stageSeconds).map(([s, t]) => `${s} ${Math.round(t!)} s`);
  out.push(`# Delta run ${run.id}`, '',
    `Pipeline \`${run.pipeline}\` (${run.file}), report written ${run.finishedAt}.` +
    (seconds.length ? ` Stage times: ${seconds.join(', ')}.` : ''), '');

  out.push('## Verdict', '');
  for (const line of data.findings) out.push(`- ${line}`);
  out.push('');

  const t = data.deltaTable;
  out.push('## Delta table', '');
  if (t.columns.length === 0) {
    out.push('No evaluation task other than the format task ran.', '');
  } else {
    out.push(head(['model', ...t.columns.map((c) => `${c.task} ${c.metric}`)]));
    for (const r of t.rows) {
      out.push(row([r.label, ...r.cells.map((c, i) => c
        ? `${shown(c.value, t.columns[i]!.rate)} (${shown(c.ciLow, t.columns[i]!.rate)}-` +
          `${shown(c.ciHigh, t.columns[i]!.rate)}), n=${c.n}` : '-')]));
    }
    out.push('', 'Shares are percentages; each score has its 95% bootstrap interval over the ' +
      'evaluated items and n, the number of items.', '');
  }

  if (data.format) {
    const f = data.format;
    out.push('## Format experiment', '', `Task \`${f.task}\`, metric \`${f.metric}\`.`, '');
    for (const s of f.statements) out.push(`- ${s}`);
    out.push('', head(['model', f.metric]));
    for (const r of f.rows) {
      out.push(row([r.label, r.cell ? `${r.cell.value.toFixed(2)} (${r.cell.ciLow.toFixed(2)}-` +
        `${r.cell.ciHigh.toFixed(2)}), n=${r.cell.n}` : '-']));
    }
    out.push('');
  }

  if (data.comparisons.length) {
    out.push('## Comparisons', '', head(['comparison', 'task', 'scores', 'difference', 'verdict']));
    for (const c of data.comparisons) {
      out.push(row([`${c.aLabel} vs ${c.bLabel}`, `${c.task} ${c.metric}`,
        `${shown(c.aValue, c.rate)} vs ${shown(c.bValue, c.rate)}`, shownDifference(c), c.verdict]));
    }
    out.push('', 'Paired comparisons resample the items both models answered (2,000 bootstrap ' +
      'resamples); unpaired ones combine the two intervals as if independent.', '');
  }

  out.push('## Training', '', head(['experiment', 'role', 'pairs', 'loss', 'steps', 'pairs used',
    'final loss', 'reward accuracy', 'reward margin', 'held-out accuracy', 'held-out margin',
    'dropped']));
  for (const e of data.training) {
    out.push(row([e.label, e.role, `${e.pairs}${e.reverse ? ' (reversed)' : ''}`, e.loss, e.steps,
      e.pairsUsed, fixed(e.final.loss ?? NaN),
      // SFT steps have no rewards (its held-out figures are measured, so they are shown).
      e.loss === 'sft' ? 'n/a' : fixed(e.final.rewardAccuracy ?? NaN),
      e.loss === 'sft' ? 'n/a' : fixed(e.final.rewardMargin ?? NaN),
      fixed(e.evalAccuracy), fixed(e.evalMargin),
      counts(e.dropped)]));
  }
  out.push('', 'Reward figures are the last step\'s; held-out figures are measured on pairs ' +
    'kept out of training (or the training pairs when none are held out). Chosen log-probs ' +
    'often fall during DPO while the margin grows; they are reported as measured.', '');

  out.push('## Pairs', '', head(['pairing', 'policy', 'models', 'responses read', 'pairs',
    'dropped']));
  for (const p of data.pairing) {
    out.push(row([p.name, p.policy, p.chosen ? `${p.chosen} over ${p.rejected}` : p.models.join(', '),
      p.responsesRead, p.pairsWritten, counts(p.dropped)]));
  }
  out.push('');

  out.push('## Generation', '', head(['generation', 'model', 'prompts', 'responses written',
    'prompts answered before', 'output tokens', 'tokens/s', 'finish reasons',
    'rejected prompts']));
  for (const g of data.generation) {
    out.push(row([g.name, g.model, g.prompts, g.responses, g.promptsSkipped, g.outputTokens,
      g.tokensPerSecond.toFixed(1), counts(g.finishReasons), g.rejected]));
  }
  out.push('', GENERATION_NOTE, '');

  out.push('## Settings', '', '```json', JSON.stringify(data.settings, null, 2), '```', '');
  if (data.notes.length) {
    out.push('## Notes', '');
    for (const n of data.notes) out.push(`- ${n}`);
    out.push('');
  }
  return out.join('\n');
}
