// MATH-style problems as a generation task: the reply's final answer (its last \boxed{} or
// "the answer is ...") is compared with the reference by normalised text or numeric value.
// Reads JSONL with "problem" and either "answer" or a "solution" holding a \boxed{} answer.
import { buildMessages } from '../chat.js';
import { EvalError } from '../errors.js';
import { readJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { hit, type GenerationTask, type ItemScore, type TaskDoc } from '../task.js';
import { extractMathAnswer, mathEquivalent, normalizeMathAnswer } from './normalize.js';

/** One problem with its reference final answer. */
export interface MathDoc extends TaskDoc {
  problem: string;
  answer: string;
  solution?: string;
}

const INSTRUCTION = 'Solve the problem. Put the final answer in \\boxed{}.';

/** Scores a reply by its extracted final answer. */
export function scoreMath(doc: Pick<MathDoc, 'answer'>, response: string): ItemScore {
  const extracted = extractMathAnswer(response);
  const ok = extracted !== undefined && mathEquivalent(extracted, doc.answer);
  return {
    score: ok ? 1 : 0,
    values: { exact_match: hit(ok) },
    detail: {
      gold: doc.answer,
      extracted: extracted ?? null,
      normalized: extracted === undefined ? null : normalizeMathAnswer(extracted),
      ok,
    },
  };
}

async function loadMath(file: string): Promise<MathDoc[]> {
  const rows = requireWellFormed(await readJsonl(file));
  return rows.map((row, index) => {
    const problem = stringField(row, 'problem', file);
    const solution = typeof row.value.solution === 'string' ? row.value.solution : undefined;
    const answer = typeof row.value.answer === 'string'
      ? row.value.answer
      : solution === undefined ? undefined : extractMathAnswer(solution);
    if (answer === undefined) {
      throw new EvalError('INVALID_ARGUMENT', 'no "answer", and no \\boxed{} answer in "solution"', {
        location: { file, line: row.line, field: 'answer' },
      });
    }
    const id = typeof row.value.id === 'string' ? row.value.id : String(index);
    return { id, text: problem, line: row.line, problem, answer, solution };
  });
}

/** MATH-style final-answer task; the reply must box or declare its answer. */
export const math: GenerationTask<MathDoc> = {
  kind: 'generation',
  name: 'math',
  description: 'Competition math, final answer compared after normalisation.',
  metrics: ['exact_match'],
  primaryMetric: 'exact_match',
  responseField: 'problem',
  sampling: { temperature: 0, maxNewTokens: 1024, stop: ['Problem:', '</s>', '<|im_end|>'] },
  load: loadMath,
  score: scoreMath,
  messages(doc, fewshot) {
    return buildMessages({ system: INSTRUCTION, fewshot, user: `Problem: ${doc.problem}` });
  },
  example(doc) {
    const reply = doc.solution ?? `The answer is $\\boxed{${doc.answer}}$.`;
    return { user: `Problem: ${doc.problem}`, assistant: reply };
  },
};
