// GSM8K as a generation task: chain-of-thought prompts, and both answer extractions scored
// against the reference solution's final number. Reads {"question", "answer"} JSONL.
import { buildMessages, type FewShotExample } from '../chat.js';
import { EvalError } from '../errors.js';
import { readJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { hit, type GenerationTask, type ItemScore, type TaskDoc } from '../task.js';
import { extractFlexible, extractStrict, goldAnswer } from './extract.js';

/** One GSM8K problem with its worked solution and final answer. */
export interface Gsm8kDoc extends TaskDoc {
  question: string;
  solution: string;
  gold: string;
}

const INSTRUCTION = 'Solve the problem step by step. End with "The answer is N." where N is a number.';

/** Scores a reply against the item's gold answer under both extractions. */
export function scoreGsm8k(doc: Pick<Gsm8kDoc, 'gold'>, response: string): ItemScore {
  const strict = extractStrict(response);
  const flexible = extractFlexible(response);
  const strictOk = strict === doc.gold;
  const flexibleOk = flexible === doc.gold;
  return {
    score: flexibleOk ? 1 : 0,
    values: { exact_match_strict: hit(strictOk), exact_match_flexible: hit(flexibleOk) },
    detail: {
      gold: doc.gold,
      strict: strict ?? null,
      flexible: flexible ?? null,
      strict_ok: strictOk,
      flexible_ok: flexibleOk,
    },
  };
}

/** A worked solution as a few-shot reply: calculator marks dropped, "####" made a sentence. */
export function solutionAsExample(solution: string): string {
  return solution
    .replace(/<<[^>]*>>/gu, '')
    .replace(/\n?####\s*(.+)\s*$/u, ' The answer is $1.')
    .trim();
}

/** Reads GSM8K JSONL: every line must be an object with string "question" and "answer". */
export async function loadGsm8k(file: string): Promise<Gsm8kDoc[]> {
  const rows = requireWellFormed(await readJsonl(file));
  return rows.map((row, index) => {
    const question = stringField(row, 'question', file);
    const solution = stringField(row, 'answer', file);
    const gold = goldAnswer(solution);
    if (gold === undefined) {
      throw new EvalError('INVALID_ARGUMENT', 'reference solution has no "#### N" line', {
        location: { file, line: row.line, field: 'answer' },
      });
    }
    const id = typeof row.value.id === 'string' ? row.value.id : String(index);
    return { id, text: question, line: row.line, question, solution, gold };
  });
}

/** GSM8K test set, chain of thought, greedy; primary metric is the flexible extraction. */
export const gsm8k: GenerationTask<Gsm8kDoc> = {
  kind: 'generation',
  name: 'gsm8k',
  description: 'Grade-school math word problems, chain of thought, exact numeric answer.',
  metrics: ['exact_match_flexible', 'exact_match_strict'],
  primaryMetric: 'exact_match_flexible',
  responseField: 'question',
  sampling: { temperature: 0, maxNewTokens: 512, stop: ['Question:', '</s>', '<|im_end|>'] },
  load: loadGsm8k,
  score: scoreGsm8k,
  messages(doc, fewshot: readonly FewShotExample[]) {
    const user = `${fewshot.length ? '' : `${INSTRUCTION}\n\n`}Question: ${doc.question}`;
    return buildMessages({ fewshot, user });
  },
  example(doc) {
    return { user: `Question: ${doc.question}`, assistant: solutionAsExample(doc.solution) };
  },
};
