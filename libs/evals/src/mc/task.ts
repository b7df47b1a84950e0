// Multiple-choice questions (MMLU-style) scored by log-likelihood: each choice's continuation is
// scored after the question, and the most likely one is the model's answer. Reports accuracy
// and length-normalised accuracy (log-prob per character of the continuation).
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { buildMessages } from '../chat.js';
import { EvalError } from '../errors.js';
import { describe, parseJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { hit, type ItemScore, type MultipleChoiceTask, type TaskDoc } from '../task.js';
import { parseCsv } from './csv.js';

/** One question with its lettered choices and the index of the right one. */
export interface ChoiceDoc extends TaskDoc {
  question: string;
  choices: string[];
  gold: number;
  subject?: string;
}

const LETTERS = 'ABCDEFGHIJ';

/**
 * Reads questions from JSONL ({"question", "choices": [...], "answer": index or letter,
 * "subject"?}) or from MMLU's CSV layout (question, one column per choice, answer letter).
 */
export async function loadChoices(file: string): Promise<ChoiceDoc[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EvalError('NOT_FOUND', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return path.extname(file).toLowerCase() === '.csv' ? fromCsv(text, file) : fromJsonl(text, file);
}

function fromJsonl(text: string, file: string): ChoiceDoc[] {
  return requireWellFormed(parseJsonl(text, file)).map((row, index) => {
    const question = stringField(row, 'question', file);
    const choices = row.value.choices;
    const at = (field: string) => ({ file, line: row.line, field });
    if (!Array.isArray(choices) || choices.length < 2 || choices.length > LETTERS.length ||
      !choices.every((c) => typeof c === 'string')) {
      throw new EvalError('INVALID_ARGUMENT', `expected 2 to 10 strings, got ${describe(choices)}`, {
        location: at('choices'),
      });
    }
    const gold = answerIndex(row.value.answer, choices.length);
    if (gold === undefined) {
      throw new EvalError('INVALID_ARGUMENT', 'expected a choice index or letter', {
        location: at('answer'),
      });
    }
    const id = typeof row.value.id === 'string' ? row.value.id : String(index);
    const subject = typeof row.value.subject === 'string' ? row.value.subject : undefined;
    return { id, text: question, line: row.line, question, choices: choices as string[], gold, subject };
  });
}

function fromCsv(text: string, file: string): ChoiceDoc[] {
  const records = parseCsv(text, file);
  if (records[0]?.fields.at(-1)?.trim().toLowerCase() === 'answer') records.shift();
  const subject = path.basename(file, '.csv').replace(/_(?:test|dev|val)$/u, '').replaceAll('_', ' ');
  return records.map((record, index) => {
    const [question = '', ...rest] = record.fields;
    const choices = rest.slice(0, -1);
    const gold = answerIndex(rest.at(-1)?.trim(), choices.length);
    if (choices.length < 2 || gold === undefined) {
      throw new EvalError('INVALID_ARGUMENT', 'expected question, choices, answer letter', {
        location: { file, line: record.line },
      });
    }
    return { id: String(index), text: question, line: record.line, question, choices, gold, subject };
  });
}

function answerIndex(answer: unknown, count: number): number | undefined {
  const index = typeof answer === 'number' ? answer
    : typeof answer === 'string' && answer.length === 1 ? LETTERS.indexOf(answer.toUpperCase())
    : -1;
  return Number.isInteger(index) && index >= 0 && index < count ? index : undefined;
}

/** The question as shown to the model: lettered choices, ending with "Answer:". */
export function formatQuestion(doc: ChoiceDoc): string {
  const lines = doc.choices.map((c, i) => `${LETTERS[i]}. ${c}`);
  return `${doc.question.trim()}\n${lines.join('\n')}\nAnswer:`;
}

/** Reads a chosen letter from a written reply ("B", "(B)", "B. Paris", "The answer is B"). */
export function extractChoice(response: string, count: number): number | undefined {
  const m = /answer is:?\s*\(?([A-J])\b/iu.exec(response) ?? /^\s*\(?([A-J])(?:[.):\s]|$)/u.exec(response);
  const index = m ? LETTERS.indexOf(m[1]!.toUpperCase()) : -1;
  return index >= 0 && index < count ? index : undefined;
}

/** Scores a written reply: its letter against the answer. */
function scoreWritten(doc: ChoiceDoc, response: string): ItemScore {
  const chosen = extractChoice(response, doc.choices.length);
  const ok = chosen === doc.gold;
  return {
    score: ok ? 1 : 0,
    values: { acc: hit(ok), acc_norm: hit(ok) },
    detail: { gold: LETTERS[doc.gold], chosen: chosen === undefined ? null : LETTERS[chosen], ok },
  };
}

/** Scores choice log-probs: the argmax raw and per character against the answer. */
export function scoreLogprobs(doc: ChoiceDoc, continuations: string[], logprobs: number[]): ItemScore {
  const best = argmax(logprobs);
  const bestNorm = argmax(logprobs.map((lp, i) => lp / Math.max(1, continuations[i]!.length)));
  return {
    score: best === doc.gold ? 1 : 0,
    values: { acc: hit(best === doc.gold), acc_norm: hit(bestNorm === doc.gold) },
    detail: { gold: LETTERS[doc.gold], chosen: LETTERS[best], chosen_norm: LETTERS[bestNorm], logprobs },
  };
}

function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Builds a multiple-choice task. `letter` continuations (" A", " B", ...) are MMLU's format;
 * `text` continuations (" Paris") make the length-normalised accuracy meaningful.
 */
export function multipleChoiceTask(options: {
  name: string;
  description: string;
  continuation: 'letter' | 'text';
}): MultipleChoiceTask<ChoiceDoc> {
  return {
    kind: 'multiple_choice',
    name: options.name,
    description: options.description,
    metrics: ['acc', 'acc_norm'],
    primaryMetric: options.continuation === 'letter' ? 'acc' : 'acc_norm',
    responseField: 'question',
    load: loadChoices,
    score: scoreWritten,
    scoreChoices: (doc, query, logprobs) => scoreLogprobs(doc, query.continuations, logprobs),
    query(doc, fewshot) {
      const header = doc.subject
        ? `The following are multiple choice questions (with answers) about ${doc.subject}.`
        : undefined;
      const messages = buildMessages({ system: header, fewshot, user: formatQuestion(doc) });
      const continuations = doc.choices.map((c, i) =>
        options.continuation === 'letter' ? ` ${LETTERS[i]}` : ` ${c}`);
      return { messages, continuations, gold: doc.gold };
    },
    example(doc) {
      const answer = options.continuation === 'letter' ? LETTERS[doc.gold]! : doc.choices[doc.gold]!;
      return { user: formatQuestion(doc), assistant: answer };
    },
  };
}

/** MMLU-style: lettered choices, scored by the letter's log-likelihood. */
export const mmlu = multipleChoiceTask({
  name: 'mmlu',
  description: 'Multiple-choice knowledge questions, letter continuations by log-likelihood.',
  continuation: 'letter',
});

/** The same questions scored by each choice's own text (cloze form). */
export const mmluCloze = multipleChoiceTask({
  name: 'mmlu_cloze',
  description: 'Multiple-choice questions, choice-text continuations by log-likelihood.',
  continuation: 'text',
});
