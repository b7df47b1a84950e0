// The `arith` task: chained single-operator arithmetic evaluated left to right and written out
// step by step ("9-6+4=" -> "9-6=3;3+4=7;#7"), graded on the steps and the final answer. Items
// come from a prompt file of @delta/world (`{"id", "prompt", "reference"?}` per line); the
// scorer recomputes the answer from the prompt, so a reference is only cross-checked.
import { buildMessages } from '../chat.js';
import { EvalError } from '../errors.js';
import { readJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { hit, registerTask, type GenerationTask, type ItemScore, type TaskDoc } from '../task.js';

/** A chain prompt taken apart: the operands and the operators between them. */
export interface ArithProblem {
  operands: number[];
  operators: ('+' | '-')[];
}

/** One item: the prompt and the problem it states. */
export interface ArithDoc extends TaskDoc, ArithProblem {
  prompt: string;
}

/** How a response fared: the graded score and what it is made of. */
export interface ArithVerdict {
  /** 0.5 x exact + 0.5 x stepsCorrect / stepsNeeded, in [0, 1]. */
  score: number;
  /** The final answer is right and exactly stepsNeeded steps were written. */
  exact: boolean;
  stepsCorrect: number;
  stepsNeeded: number;
  /** The number after '#', when the response ends with one. */
  final: number | null;
}

const PROMPT = /^(\d+)((?:[+-]\d+)+)=$/u;

/** Reads "9-6+4=" into operands and operators; null when the text is not a chain prompt. */
export function parseArithPrompt(prompt: string): ArithProblem | null {
  const m = PROMPT.exec(prompt);
  if (!m) return null;
  const operands = [Number(m[1])];
  const operators: ('+' | '-')[] = [];
  for (const part of m[2]!.matchAll(/([+-])(\d+)/gu)) {
    operators.push(part[1] as '+' | '-');
    operands.push(Number(part[2]));
  }
  return { operands, operators };
}

function apply(left: number, op: string, right: number): number {
  return op === '+' ? left + right : left - right;
}

/** The value of a chain, left to right. */
export function arithAnswer(p: ArithProblem): number {
  return p.operators.reduce((acc, op, i) => apply(acc, op, p.operands[i + 1]!), p.operands[0]!);
}

/** The worked solution a perfect model writes: one `L op R=V` step per operator, then `#V`. */
export function arithSolution(p: ArithProblem): string {
  const steps: string[] = [];
  let acc = p.operands[0]!;
  p.operators.forEach((op, i) => {
    const next = apply(acc, op, p.operands[i + 1]!);
    steps.push(`${acc}${op}${p.operands[i + 1]}=${next}`);
    acc = next;
  });
  return `${steps.join(';')};#${acc}`;
}

const STEP = /^(\d+)([+-])(\d+)=(-?\d+)$/u;

/**
 * Grades a response. Step i is right when it reads `L op R=V` with L the value the previous
 * step wrote (the first operand for step 1), op and R the prompt's i-th operator and next
 * operand, and V = L op R: an early slip costs that step, not every later one. The final
 * answer counts only after exactly as many steps as the chain has operators.
 */
export function scoreArith(p: ArithProblem, response: string): ArithVerdict {
  const parts = response.trim().split(';');
  let final: number | null = null;
  const last = parts[parts.length - 1] ?? '';
  if (/^#-?\d+$/u.test(last)) {
    final = Number(last.slice(1));
    parts.pop();
  }
  const stepsNeeded = p.operators.length;
  let previous = p.operands[0]!;
  let stepsCorrect = 0;
  for (let i = 0; i < Math.min(stepsNeeded, parts.length); i++) {
    const m = STEP.exec(parts[i]!);
    if (!m) continue;
    const [left, op, right, value] = [Number(m[1]), m[2]!, Number(m[3]), Number(m[4])];
    const ok = left === previous && op === p.operators[i] && right === p.operands[i + 1] &&
      value === apply(left, op, right);
    if (ok) stepsCorrect++;
    previous = value;
  }
  const exact = final === arithAnswer(p) && parts.length === stepsNeeded;
  return {
    score: 0.5 * (exact ? 1 : 0) + 0.5 * (stepsCorrect / stepsNeeded),
    exact, stepsCorrect, stepsNeeded, final,
  };
}

/**
 * Reads a prompt file: each line an object with string `id` and `prompt` (a chain prompt);
 * `task`, when present, must be "arith"; `reference`, when present, must be the worked solution.
 */
export async function loadArith(file: string): Promise<ArithDoc[]> {
  const rows = requireWellFormed(await readJsonl(file));
  return rows.map((row) => {
    const where = (field: string) => ({ file, line: row.line, field });
    const id = stringField(row, 'id', file);
    const prompt = stringField(row, 'prompt', file);
    const task = row.value.task;
    if (task !== undefined && task !== 'arith') {
      throw new EvalError('INVALID_ARGUMENT', `task is ${JSON.stringify(task)}, not "arith"`,
        { location: where('task') });
    }
    const problem = parseArithPrompt(prompt);
    if (!problem) {
      throw new EvalError('INVALID_ARGUMENT',
        `${JSON.stringify(prompt)} is not a chain prompt such as "9-6+4="`,
        { location: where('prompt') });
    }
    const reference = row.value.reference;
    if (reference !== undefined && reference !== arithSolution(problem)) {
      throw new EvalError('INVALID_ARGUMENT',
        `reference ${JSON.stringify(reference)} is not the solution of ${prompt} ` +
        `(${arithSolution(problem)})`, { location: where('reference') });
    }
    return { id, text: prompt, line: row.line, prompt, ...problem };
  });
}

function scoreItem(doc: ArithDoc, response: string): ItemScore {
  const v = scoreArith(doc, response);
  return {
    score: v.score,
    values: {
      score: { num: v.score, den: 1 },
      exact_match: hit(v.exact),
      steps: { num: v.stepsCorrect, den: v.stepsNeeded },
    },
    detail: { gold: arithAnswer(doc), final: v.final, exact: v.exact,
      steps_correct: v.stepsCorrect, steps_needed: v.stepsNeeded },
  };
}

/**
 * Chain arithmetic, greedy; the prompt is the bare chain (the world's models are trained on
 * exactly that, with no instruction). Primary metric: the graded score.
 */
export const arith: GenerationTask<ArithDoc> = {
  kind: 'generation',
  name: 'arith',
  description: 'Chained +/- arithmetic written step by step; graded on steps and final answer.',
  metrics: ['score', 'exact_match', 'steps'],
  primaryMetric: 'score',
  responseField: 'prompt',
  sampling: { temperature: 0, maxNewTokens: 64 },
  load: loadArith,
  score: scoreItem,
  messages(doc, fewshot) {
    return buildMessages({ fewshot, user: doc.prompt });
  },
  example(doc) {
    return { user: doc.prompt, assistant: arithSolution(doc) };
  },
};

registerTask(arith);
