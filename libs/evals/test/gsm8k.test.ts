// GSM8K answer extraction (strict and flexible) and scoring on the real test set: reference
// solutions all score correct, and four OpenAI models' solutions form the expected ladder.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

import { extractFlexible, extractStrict, gsm8k, normalizeNumber, scoreGsm8k, type Gsm8kDoc } from '../src/index.js';
import { solutionAsExample } from '../src/gsm8k/task.js';
import { shared } from './support/paths.js';

describe('GSM8K extraction', () => {
  it('strict reads "#### N" and "The answer is N" only', () => {
    expect(extractStrict('so 9 eggs\n#### 18')).toBe('18');
    expect(extractStrict('She makes $18. The answer is $1,200.')).toBe('1200');
    expect(extractStrict('The final answer is: **-3**')).toBe('-3');
    expect(extractStrict('A: 18')).toBeUndefined();
  });

  it.each([
    ['A: 26', '26'],
    ['She pays $1,200.', '1200'],
    ['total 1,200', '1200'],
    ['It drops to -3 degrees', '-3'],
    ['It costs 3.50', '3.5'],
    ['Answer: 18.', '18'],
    ['16-3 = <<16-3=13>>13 eggs\nA: 13', '13'],
    ['1,2 and 3', '3'],
  ])('flexible reads the last number of %j as %s', (text, want) => {
    expect(extractFlexible(text)).toBe(want);
  });

  it('normalises numbers so equal values compare equal', () => {
    expect(normalizeNumber('$1,200.50')).toBe('1200.5');
    expect(normalizeNumber('3.00')).toBe('3');
    expect(normalizeNumber('-0')).toBe('0');
    expect(normalizeNumber('007')).toBe('7');
  });

  it('scores "The answer is N" correct under both, and "A: N" under flexible only', () => {
    const doc = { gold: '18' };
    expect(scoreGsm8k(doc, 'The answer is 18.').values).toEqual({
      exact_match_strict: { num: 1, den: 1 },
      exact_match_flexible: { num: 1, den: 1 },
    });
    expect(scoreGsm8k(doc, 'A: 18').values).toEqual({
      exact_match_strict: { num: 0, den: 1 },
      exact_match_flexible: { num: 1, den: 1 },
    });
  });

  it('writes a reference solution as a few-shot reply ending in "The answer is N."', () => {
    expect(solutionAsExample('9 * 2 = $<<9*2=18>>18 a day.\n#### 18')).toBe('9 * 2 = $18 a day. The answer is 18.');
  });
});

describe('GSM8K test set', () => {
  let docs: Gsm8kDoc[];
  beforeAll(async () => {
    docs = await gsm8k.load(shared('data/gsm8k/test.jsonl'));
  });

  it('scores every reference solution correct under both extractions', () => {
    expect(docs).toHaveLength(1319);
    const wrong = docs.filter((d) => {
      const s = scoreGsm8k(d, d.solution);
      return s.values.exact_match_strict!.num !== 1 || s.values.exact_match_flexible!.num !== 1;
    });
    expect(wrong.map((d) => d.id)).toEqual([]);
  });

  it('ranks the four models of the solutions file as a ladder (flexible extraction)', () => {
    type Row = { question: string; responses: Record<string, string> };
    const rows = readFileSync(shared('data/gsm8k/model_solutions.jsonl'), 'utf8')
      .trim().split('\n').map((l) => JSON.parse(l) as Row);
    const accuracy = (model: string) => {
      let correct = 0;
      rows.forEach((row, i) => {
        expect(row.question).toBe(docs[i]!.question);
        correct += scoreGsm8k(docs[i]!, row.responses[model]!).values.exact_match_flexible!.num;
      });
      return correct;
    };
    // Counts out of 1319, produced by this scorer; they sit where the GSM8K paper puts these
    // models (6B fine-tuned about 20%, 175B with a verifier about 55%).
    expect({
      '6b_finetuning': accuracy('6b_finetuning'),
      '6b_verification': accuracy('6b_verification'),
      '175b_finetuning': accuracy('175b_finetuning'),
      '175b_verification': accuracy('175b_verification'),
    }).toEqual({ '6b_finetuning': 286, '6b_verification': 515, '175b_finetuning': 458, '175b_verification': 742 });
  });
});
