// Inline SVG charts for the HTML report: a line chart (a figure over training steps, one line
// per experiment) and a grouped bar chart with confidence-interval whiskers (the delta table).
// No scripts, fonts or external assets: the file opens anywhere, offline.

/**
 * Colours that stay apart for colour-blind readers (Okabe and Ito's palette, then a grey and a
 * brown), enough for the demo's nine models before one repeats.
 */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9',
  '#000000', '#999999', '#F0E442', '#8C510A'];

/** One line of a line chart. */
export interface Series {
  name: string;
  color: string;
  points: Array<{ x: number; y: number }>;
  dashed?: boolean;
}

/** One bar with its interval. */
export interface Bar {
  label: string;
  value: number;
  lo: number;
  hi: number;
  color: string;
}

const FONT = 'font-family="system-ui, sans-serif"';

/** Escapes text for SVG and HTML. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/gu, (c) =>
    ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values covering [lo, hi], about `count` of them. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi - lo < 1e-12) {
    // A flat range: zero stays the floor (all-zero scores), anything else gets room around it.
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    if (lo !== 0) lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  if (out.at(-1)! < hi) out.push(Number((out.at(-1)! + step).toPrecision(12)));
  return out;
}

/** Maps the span of `axis` (its first to last tick) onto the pixels `from` to `to`. */
function scale(axis: number[], from: number, to: number): (v: number) => number {
  const lo = axis[0]!;
  const hi = axis.at(-1)!;
  return (v) => from + ((v - lo) / (hi - lo)) * (to - from);
}

function label(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1000 || abs < 0.01) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const LEFT = 56;

function frameOf(width: number, height: number, legendRows: number): Frame {
  return { width, height: height + 16 * Math.max(0, legendRows - 1), left: LEFT, right: width - 16,
    top: 36, bottom: height - 64 };
}

interface LegendItem {
  name: string;
  color: string;
  dashed?: boolean;
}

/** Places legend entries left to right, wrapping by their estimated text width. */
function legendLayout(items: LegendItem[], width: number): Array<{ x: number; row: number }> {
  let x = LEFT;
  let row = 0;
  return items.map((item) => {
    const w = 24 + 6.2 * item.name.length + 18;
    if (x > LEFT && x + w > width - 8) {
      x = LEFT;
      row += 1;
    }
    const at = { x, row };
    x += w;
    return at;
  });
}

function legendRows(items: LegendItem[], width: number): number {
  return (legendLayout(items, width).at(-1)?.row ?? 0) + 1;
}

function axes(f: Frame, yTicks: number[], y: (v: number) => number, title: string,
  yLabel: string, format: (v: number) => string): string[] {
  const parts = [
    `<text x="${f.width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">` +
      `${escapeXml(title)}</text>`,
    `<text transform="translate(14 ${(f.top + f.bottom) / 2}) rotate(-90)" text-anchor="middle" ` +
      `font-size="11">${escapeXml(yLabel)}</text>`,
  ];
  for (const t of yTicks) {
    parts.push(`<line x1="${f.left}" x2="${f.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>`,
      `<text x="${f.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="10">${format(t)}</text>`);
  }
  parts.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.bottom}" stroke="#888"/>`,
    `<line x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}" stroke="#888"/>`);
  return parts;
}

function legend(f: Frame, items: LegendItem[]): string[] {
  const places = legendLayout(items, f.width);
  return items.map((item, i) => {
    const x = places[i]!.x;
    const y = f.bottom + 48 + places[i]!.row * 16;
    return `<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${item.color}" ` +
      `stroke-width="3"${item.dashed ? ' stroke-dasharray="4 3"' : ''}/>` +
      `<text x="${x + 24}" y="${y}" font-size="11">${escapeXml(item.name)}</text>`;
  });
}

/** A line chart; series without finite points are left out, and said so in the legend. */
export function lineChart(options: { title: string; xLabel: string; yLabel: string;
  series: Series[]; width?: number; height?: number }): string {
  const series = options.series.map((s) => ({
    ...s, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  }));
  const drawn = series.filter((s) => s.points.length > 0);
  const width = options.width ?? 520;
  const legendItems = series.map((s) =>
    ({ ...s, name: s.points.length ? s.name : `${s.name} (no data)` }));
  const f = frameOf(width, options.height ?? 300, legendRows(legendItems, width));
  const xs = drawn.flatMap((s) => s.points.map((p) => p.x));
  const ys = drawn.flatMap((s) => s.points.map((p) => p.y));
  const xTicks = ticks(Math.min(0, ...xs), Math.max(1, ...xs));
  const yTicks = ticks(Math.min(...ys, 0), Math.max(...ys, 0));
  const x = scale(xTicks, f.left, f.right);
  const y = scale(yTicks, f.bottom, f.top);

  const parts = axes(f, yTicks, y, options.title, options.yLabel, label);
  for (const t of xTicks) {
    parts.push(`<text x="${x(t)}" y="${f.bottom + 14}" text-anchor="middle" font-size="10">` +
      `${label(t)}</text>`);
  }
  parts.push(`<text x="${(f.left + f.right) / 2}" y="${f.bottom + 28}" text-anchor="middle" ` +
    `font-size="11">${escapeXml(options.xLabel)}</text>`);
  for (const s of drawn) {
    const d = s.points.map((p, i) =>
      `${i ? 'L' : 'M'}${x(p.x).toFixed(1)} ${y(p.y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"` +
      `${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (s.points.length === 1) {
      const p = s.points[0]!;
      parts.push(`<circle cx="${x(p.x)}" cy="${y(p.y)}" r="3" fill="${s.color}"/>`);
    }
  }
  parts.push(...legend(f, legendItems));
  return svg(f, options.title, parts);
}

/** Grouped bars (one group per task) with whiskers from `lo` to `hi`. */
export function barChart(options: { title: string; yLabel: string;
  groups: Array<{ label: string; bars: Bar[] }>; format: (v: number) => string;
  width?: number; height?: number }): string {
  const names = [...new Map(options.groups.flatMap((g) => g.bars)
    .map((b) => [b.label, b.color])).entries()];
  const width = options.width ?? Math.max(640, 90 + options.groups.length * (names.length * 26 + 40));
  const legendItems = names.map(([name, color]) => ({ name, color }));
  const f = frameOf(width, options.height ?? 340, legendRows(legendItems, width));
  const values = options.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.lo, b.hi]))
    .filter(Number.isFinite);
  const yTicks = ticks(Math.min(0, ...values), Math.max(...values, 0));
  const y = scale(yTicks, f.bottom, f.top);

  const parts = axes(f, yTicks, y, options.title, options.yLabel, options.format);
  const groupWidth = (f.right - f.left) / Math.max(1, options.groups.length);
  options.groups.forEach((g, gi) => {
    const barWidth = Math.min(28, (groupWidth - 20) / Math.max(1, g.bars.length));
    const start = f.left + gi * groupWidth + (groupWidth - barWidth * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      if (!Number.isFinite(b.value)) return;
      const x0 = start + bi * barWidth;
      const top = Math.min(y(b.value), y(0));
      const cx = x0 + barWidth / 2;
      parts.push(`<rect x="${x0 + 1}" y="${top}" width="${barWidth - 2}" ` +
        // A score of zero still shows as a hairline, so a missing bar means a missing score.
        `height="${Math.max(1, Math.abs(y(b.value) - y(0)))}" fill="${b.color}">` +
        `<title>${escapeXml(`${b.label}: ${options.format(b.value)} (95% CI ` +
          `${options.format(b.lo)}-${options.format(b.hi)})`)}</title></rect>`);
      if (Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
        parts.push(`<path d="M${cx} ${y(b.lo)}V${y(b.hi)}M${cx - 4} ${y(b.lo)}H${cx + 4}` +
          `M${cx - 4} ${y(b.hi)}H${cx + 4}" stroke="#222" stroke-width="1.2"/>`);
      }
    });
    parts.push(`<text x="${f.left + (gi + 0.5) * groupWidth}" y="${f.bottom + 16}" ` +
      `text-anchor="middle" font-size="11">${escapeXml(g.label)}</text>`);
  });
  parts.push(...legend(f, legendItems));
  return svg(f, options.title, parts);
}

function svg(f: Frame, title: string, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" ` +
    `width="${f.width}" height="${f.height}" role="img" aria-label="${escapeXml(title)}" ${FONT}>` +
    `${parts.join('')}</svg>`;
}
