// MATH-style final answers: extraction from \boxed{} or "the answer is", and equivalence of
// the usual spellings of one value.
import { describe, expect, it } from 'vitest';

import { evaluate, extractMathAnswer, mathEquivalent, normalizeMathAnswer, scoreMath } from '../src/index.js';

describe('extractMathAnswer', () => {
  it('takes the last \\boxed{} with nested braces', () => {
    expect(extractMathAnswer('first \\boxed{1}, then $\\boxed{\\frac{1}{2}}$.')).toBe('\\frac{1}{2}');
  });

  it('reads \\fbox, a bare \\boxed 5 and a declared answer', () => {
    expect(extractMathAnswer('\\fbox{7}')).toBe('7');
    expect(extractMathAnswer('So \\boxed 5')).toBe('5');
    expect(extractMathAnswer('Thus the answer is $\\sqrt{2}$.')).toBe('$\\sqrt{2}$');
  });

  it('finds nothing in a reply without an answer', () => {
    expect(extractMathAnswer('I am not sure.')).toBeUndefined();
  });
});

describe('mathEquivalent', () => {
  it.each([
    ['\\frac{1}{2}', '0.5'],
    ['\\dfrac12', '1/2'],
    ['\\tfrac{3}{4}', '0.75'],
    ['\\sqrt2', '\\sqrt{2}'],
    ['2\\sqrt{3}', '\\sqrt{12}'],
    ['\\frac{\\sqrt{3}}{2}', '\\frac{\\sqrt3}{2}'],
    ['5 \\text{ cm}', '5'],
    ['10 inches', '10'],
    ['10\\%', '10'],
    ['90^\\circ', '90'],
    ['\\$1,000.00', '1000'],
    ['x = 5', '5'],
    ['\\left(3, \\frac{\\pi}{2}\\right)', '(3,\\frac{\\pi}{2})'],
    ['-\\frac{2}{3}', '\\frac{-2}{3}'],
  ])('%s equals %s', (a, b) => {
    expect(mathEquivalent(a, b)).toBe(true);
  });

  it.each([
    ['\\frac{1}{3}', '0.33'],
    ['(1,2)', '[1,2]'],
    ['(1,2)', '(2,1)'],
    ['x+1', '1+x'],
    ['3', '4'],
  ])('%s differs from %s', (a, b) => {
    expect(mathEquivalent(a, b)).toBe(false);
  });

  it('normalises spacing and LaTeX spellings to one text', () => {
    expect(normalizeMathAnswer(' $\\dfrac{1}{2}$. ')).toBe('\\frac{1}{2}');
    expect(normalizeMathAnswer('\\text{(A)}')).toBe('(A)');
  });

  it('evaluates numeric expressions, and nothing else', () => {
    expect(evaluate('\\sqrt[3]{27}')).toBeCloseTo(3, 12);
    expect(evaluate('2^{10}-1')).toBe(1023);
    expect(evaluate('\\frac{\\pi}{2}')).toBeCloseTo(Math.PI / 2, 12);
    expect(evaluate('x+1')).toBeUndefined();
  });
});

describe('scoreMath', () => {
  it('scores a boxed reply against the reference answer', () => {
    expect(scoreMath({ answer: '\\frac{1}{2}' }, 'Hence $\\boxed{0.5}$.')).toMatchObject({
      score: 1,
      detail: { extracted: '0.5', ok: true },
    });
    expect(scoreMath({ answer: '2' }, 'No idea').score).toBe(0);
  });
});
