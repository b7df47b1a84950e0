// Final answers of competition math (MATH-style): extraction from \boxed{} or "the answer is",
// normalisation of LaTeX spellings, and equivalence by canonical text or by numeric value.
// Symbolic equivalence (x+1 vs 1+x, factored forms) is not checked: such pairs compare unequal.

/** Content of the last \boxed{...} or \fbox{...}, braces balanced; else the declared answer. */
export function extractMathAnswer(text: string): string | undefined {
  const boxed = lastBoxed(text);
  if (boxed !== undefined) return boxed;
  const declared = /answer is[:\s]*(\$[^$]+\$|[^\n]+?)\s*(?:\.\s*$|\.\s|\n|$)/iu.exec(text);
  return declared ? declared[1]!.trim() : undefined;
}

function lastBoxed(text: string): string | undefined {
  const at = Math.max(text.lastIndexOf('\\boxed'), text.lastIndexOf('\\fbox'));
  if (at < 0) return undefined;
  let i = text.indexOf('{', at);
  const after = text.slice(at).replace(/^\\(?:boxed|fbox)/u, '');
  if (i < 0 || /^\s+\S/u.test(after)) {
    return /^\s+([^\s$]+)/u.exec(after)?.[1];
  }
  let depth = 0;
  for (const start = i; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(start + 1, i);
  }
  return undefined;
}

/** Canonical text of an answer: spacing, delimiters, units and LaTeX variants removed. */
export function normalizeMathAnswer(answer: string): string {
  let s = answer.trim();
  s = s.replace(/^\$+|\$+$/gu, '').replace(/^\\\(|\\\)$/gu, '');
  s = s.replace(/\\(?:left|right)(?![a-zA-Z])/gu, '');
  s = s.replace(/\\[!,;:> ]|~/gu, ' ');
  s = s.replace(/\\[dt]frac/gu, '\\frac');
  s = s.replace(/\^\s*\{?\\circ\}?|°/gu, '');
  s = s.replace(/\\?%|\\\$|\$/gu, '');
  s = s.replace(/\\(?:text|textbf|mbox|mathrm|textnormal)\{([^{}]*)\}/gu, ' $1 ');
  s = s.replace(/^[a-zA-Z]\s*=\s*/u, '');
  s = s.replace(/\s+/gu, ' ').trim().replace(/\.$/u, '').trim();

  // Units and other words after a number ("5 cm", "10 inches", "3 \text{ dollars}").
  const unit = /^(-?[\d.,]+|\\frac\{[^{}]+\}\{[^{}]+\}|[\d.]+\/[\d.]+)\s*[a-zA-Z][a-zA-Z\s^\d]*$/u.exec(s);
  if (unit) s = unit[1]!;

  s = s.replace(/\s+/gu, '');
  if (/^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/u.test(s)) s = s.replaceAll(',', '');
  s = s.replace(/\\frac(\d)(\d)/gu, '\\frac{$1}{$2}').replace(/\\frac\{([^{}]+)\}(\d)/gu, '\\frac{$1}{$2}');
  s = s.replace(/\\sqrt(\d+)/gu, '\\sqrt{$1}');
  s = s.replace(/^(-?\d+)\/(\d+)$/u, '\\frac{$1}{$2}');
  s = s.replace(/^(-?)0+(?=\d)/u, '$1').replace(/(\.\d*?)0+$/u, '$1').replace(/\.$/u, '');
  return s;
}

/** True when two answers are the same after normalisation, or evaluate to the same number. */
export function mathEquivalent(a: string, b: string): boolean {
  const na = normalizeMathAnswer(a);
  const nb = normalizeMathAnswer(b);
  if (na === nb) return true;

  const ta = splitTuple(na);
  const tb = splitTuple(nb);
  if (ta && tb) {
    return ta.open === tb.open && ta.parts.length === tb.parts.length &&
      ta.parts.every((p, i) => sameValue(p, tb.parts[i]!));
  }
  return sameValue(na, nb);
}

function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = evaluate(a);
  const y = evaluate(b);
  if (x === undefined || y === undefined) return false;
  return Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(x), Math.abs(y));
}

function splitTuple(s: string): { open: string; parts: string[] } | undefined {
  const m = /^([([])(.*)([)\]])$/u.exec(s);
  if (!m || !m[2]!.includes(',')) return undefined;
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of m[2]!) {
    if ('({['.includes(ch)) depth++;
    if (')}]'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return { open: m[1]! + m[3]!, parts };
}

/**
 * Numeric value of a normalised answer: numbers, + - * / ^, parentheses, \frac, \sqrt (with an
 * index), \pi, \cdot and \times, and implicit products ("2\sqrt{3}"). Undefined otherwise.
 */
export function evaluate(expression: string): number | undefined {
  const tokens = expression
    .replace(/\\cdot|\\times/gu, '*')
    .replace(/\\pi/gu, 'π')
    .match(/\d+\.?\d*|\.\d+|\\frac|\\sqrt|π|[-+*/^(){}[\]]|\S/gu);
  if (!tokens) return undefined;
  const parser = new Parser(tokens);
  const value = parser.sum();
  return parser.done() && Number.isFinite(value) ? value : undefined;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: string[]) {}

  done(): boolean {
    return this.i === this.tokens.length;
  }

  private peek(): string | undefined {
    return this.tokens[this.i];
  }

  private take(expected?: string): string {
    const t = this.tokens[this.i++];
    if (t === undefined || (expected !== undefined && t !== expected)) return this.fail();
    return t;
  }

  private fail(): never {
    throw new RangeError('not a number');
  }

  sum(): number {
    try {
      let v = this.product();
      for (let t = this.peek(); t === '+' || t === '-'; t = this.peek()) {
        this.i++;
        v = t === '+' ? v + this.product() : v - this.product();
      }
      return v;
    } catch {
      this.i = -1;
      return NaN;
    }
  }

  private product(): number {
    let v = this.unary();
    for (;;) {
      const t = this.peek();
      if (t === '*' || t === '/') {
        this.i++;
        v = t === '*' ? v * this.unary() : v / this.unary();
      } else if (t !== undefined && /^(?:\d|\.|\\frac|\\sqrt|π|\(|\{)/u.test(t)) {
        v *= this.power();
      } else return v;
    }
  }

  private unary(): number {
    if (this.peek() === '-') {
      this.i++;
      return -this.unary();
    }
    if (this.peek() === '+') this.i++;
    return this.power();
  }

  private power(): number {
    const base = this.atom();
    if (this.peek() !== '^') return base;
    this.i++;
    return base ** this.unary();
  }

  private group(open: string, close: string): number {
    this.take(open);
    const v = this.inner();
    this.take(close);
    return v;
  }

  private inner(): number {
    let v = this.product();
    for (let t = this.peek(); t === '+' || t === '-'; t = this.peek()) {
      this.i++;
      v = t === '+' ? v + this.product() : v - this.product();
    }
    return v;
  }

  private atom(): number {
    const t = this.peek();
    if (t === undefined) return this.fail();
    if (/^[\d.]/u.test(t)) return Number(this.take());
    if (t === 'π') {
      this.i++;
      return Math.PI;
    }
    if (t === '(') return this.group('(', ')');
    if (t === '{') return this.group('{', '}');
    if (t === '\\frac') {
      this.i++;
      return this.group('{', '}') / this.group('{', '}');
    }
    if (t === '\\sqrt') {
      this.i++;
      const index = this.peek() === '[' ? this.group('[', ']') : 2;
      return this.group('{', '}') ** (1 / index);
    }
    return this.fail();
  }
}
