// The multiple-choice task: reading JSONL and MMLU's CSV layout, prompts, and scoring by
// log-probs (raw and per character) or by a written letter.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { extractChoice, getTask, loadChoices, type ChoiceDoc } from '../src/index.js';
import { formatQuestion } from '../src/mc/task.js';
import { testFile } from './support/paths.js';

describe('loadChoices', () => {
  it('reads JSONL with index or letter answers', async () => {
    const docs = await loadChoices(testFile('fixtures/mc.jsonl'));
    expect(docs.map((d) => d.gold)).toEqual([1, 2, 0, 3, 1, 2]);
    expect(docs[0]).toMatchObject({ id: 'q1', subject: 'geography', choices: ['Berlin', 'Paris', 'Madrid', 'Rome'] });
  });

  it('reads MMLU CSV with quoted commas, doubled quotes and line breaks', async () => {
    const docs = await loadChoices(testFile('fixtures/mc_test.csv'));
    expect(docs.map((d) => [d.question, d.gold, d.line])).toEqual([
      ['What is the capital of France?', 1, 1],
      ['Which word means "very big"?', 1, 2],
      ['A question\non two lines?', 0, 3],
    ]);
    expect(docs[1]!.choices[1]).toBe('huge, vast');
    expect(docs[0]!.subject).toBe('mc');
  });

  it('names the line and field of a bad answer', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'evals-mc-'));
    const file = path.join(dir, 'bad.jsonl');
    await writeFile(file, '{"question": "q", "choices": ["a", "b"], "answer": 0}\n{"question": "q", "choices": ["a", "b"], "answer": "E"}\n');
    await expect(loadChoices(file)).rejects.toThrow(`${file}:2 field "answer": expected a choice index or letter`);
  });
});

describe('multiple-choice scoring', () => {
  const doc: ChoiceDoc = { id: 'x', text: 'q', line: 1, question: 'Pick one', choices: ['a', 'longer'], gold: 1 };

  it('formats the question with lettered choices, ending with "Answer:"', () => {
    expect(formatQuestion(doc)).toBe('Pick one\nA. a\nB. longer\nAnswer:');
  });

  it('picks the most likely choice for acc, and per character for acc_norm', () => {
    const task = getTask('mmlu_cloze');
    if (task.kind !== 'multiple_choice') throw new Error('mmlu_cloze should be multiple choice');
    const query = task.query(doc, []);
    expect(query.continuations).toEqual([' a', ' longer']);
    // " a": -2 over 2 chars = -1/char; " longer": -3 over 7 chars = -0.43/char.
    const score = task.scoreChoices(doc, query, [-2, -3]);
    expect(score.values).toEqual({ acc: { num: 0, den: 1 }, acc_norm: { num: 1, den: 1 } });
    expect(score.detail).toMatchObject({ chosen: 'A', chosen_norm: 'B', gold: 'B' });
  });

  it('reads a written letter from a reply', () => {
    expect(extractChoice('B', 4)).toBe(1);
    expect(extractChoice('(C) because', 4)).toBe(2);
    expect(extractChoice('I think the answer is D.', 4)).toBe(3);
    expect(extractChoice('E', 4)).toBeUndefined();
    expect(extractChoice('Maybe', 4)).toBeUndefined();
  });
});
