// Generates the arithmetic chain task: n single-digit operands joined by + or -, evaluated left
// to right with the running value never below zero, and the worked solution a perfect model
// writes. Scoring lives with the task in @delta/evals; this file only draws problems.
import { arithSolution, type ArithProblem } from '@delta/evals';
import type { Rng } from './rng.js';

/** The knobs of the generator. */
export interface ArithShape {
  /** Operand count range, both ends included (the chain has n - 1 steps). */
  minOperands: number;
  maxOperands: number;
  /** Operands are drawn from 1..maxOperand. */
  maxOperand: number;
}

/** One problem, as prompt and worked solution. */
export interface ArithItem {
  prompt: string;
  solution: string;
}

/** The prompt text of a problem: "9-6+4+5=". */
export function arithPrompt(p: ArithProblem): string {
  let s = String(p.operands[0]);
  p.operators.forEach((op, i) => { s += `${op}${p.operands[i + 1]}`; });
  return `${s}=`;
}

/** Draws one problem; a chain whose running value would drop below zero is drawn again. */
export function drawArith(rng: Rng, shape: ArithShape): ArithProblem {
  for (;;) {
    const n = rng.int(shape.minOperands, shape.maxOperands);
    const operands = [rng.int(1, shape.maxOperand)];
    const operators: ('+' | '-')[] = [];
    let value = operands[0]!;
    for (let i = 1; i < n; i++) {
      const op = rng.float() < 0.5 ? '+' : '-';
      const right = rng.int(1, shape.maxOperand);
      value = op === '+' ? value + right : value - right;
      operators.push(op);
      operands.push(right);
    }
    if (!runningValues({ operands, operators }).some((v) => v < 0)) return { operands, operators };
  }
}

function runningValues(p: ArithProblem): number[] {
  const out: number[] = [];
  let acc = p.operands[0]!;
  p.operators.forEach((op, i) => {
    acc = op === '+' ? acc + p.operands[i + 1]! : acc - p.operands[i + 1]!;
    out.push(acc);
  });
  return out;
}

/**
 * Draws `count` distinct problems whose prompts are not in `exclude`, and adds each to it, so
 * sets drawn one after another from one `exclude` never share a prompt.
 */
export function drawArithSet(
  rng: Rng,
  shape: ArithShape,
  count: number,
  exclude: Set<string>,
): ArithItem[] {
  const out: ArithItem[] = [];
  let misses = 0;
  while (out.length < count) {
    const problem = drawArith(rng, shape);
    const prompt = arithPrompt(problem);
    if (exclude.has(prompt)) {
      // The space of prompts is finite (2 916 with three operands); say so rather than spin.
      if (++misses > 100 * count + 10_000) {
        throw new Error(`only ${out.length} of ${count} new arithmetic prompts could be drawn`);
      }
      continue;
    }
    exclude.add(prompt);
    out.push({ prompt, solution: arithSolution(problem) });
  }
  return out;
}
