// Reading pair exports (the formats accepted, bad lines reported by number, duplicates), the
// data snapshot, and the seeded split and step order a run and its resumption share.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  contentId, permutation, readPairsJsonl, readSnapshot, splitEval, StepPlan, writeSnapshot,
} from '../src/index.js';
import { scratch } from './support/scratch.js';

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('readPairsJsonl', () => {
  it('reads every accepted shape and reports each bad line by number', async () => {
    const history = [user('What is 1 plus 1?'), assistant('2.'), user('And 2 plus 2?')];
    const lines = [
      { id: 'a', prompt: 'What is 2 plus 3?', chosen: '5.', rejected: '6.' },
      '{"id": "b", "prompt": [}',
      { pair_id: 'c', prompt: [user('Hi')], chosen: { text: 'Hello.' }, rejected: { text: 'Go.' } },
      // Whole conversations copied into each side: only the last reply is the response.
      { id: 'd', prompt: history, chosen: [...history, assistant('4.')],
        rejected: [...history, assistant('5.')] },
      // No prompt field: the messages both sides share are the prompt.
      { id: 'e', chosen: [...history, assistant('4.')], rejected: [...history, assistant('22.')] },
      { id: 'f', prompt: 'Q?' },
      { id: 'g', prompt: [user('Q?')], chosen: [user('Q?'), assistant('A.'), user('More?')],
        rejected: 'B.' },
      '',
      { id: 'a', prompt: 'again', chosen: 'x', rejected: 'y' },
      { prompt: 'no id', chosen: 'x', rejected: 'y' },
      [1, 2],
    ];
    const file = path.join(scratch('jsonl'), 'pairs.jsonl');
    writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
      .join('\n'));

    const read = await readPairsJsonl(file, { maxPairs: 100 });
    expect(read.pairs.map((p) => p.pairId)).toEqual(['a', 'c', 'd', 'e',
      contentId({ prompt: [user('no id')], chosen: 'x', rejected: 'y' })]);
    expect(read.pairs[0]).toEqual({ pairId: 'a', prompt: [user('What is 2 plus 3?')],
      chosen: '5.', rejected: '6.' });
    expect(read.pairs[2]).toEqual({ pairId: 'd', prompt: history, chosen: '4.', rejected: '5.' });
    expect(read.pairs[3]).toEqual({ pairId: 'e', prompt: history, chosen: '4.', rejected: '22.' });
    expect(read.rejected).toEqual([
      { line: 2, reason: 'not valid JSON' },
      { line: 6, reason: 'chosen is missing' },
      { line: 7, reason: 'chosen: after the prompt, expected one assistant message, found 2 ' +
        '(assistant, user)' },
      { line: 11, reason: 'not a JSON object' },
    ]);
    expect(read.duplicates).toBe(1);
    expect(read.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stops past the service\'s pair limit', async () => {
    const file = path.join(scratch('limit'), 'pairs.jsonl');
    writeFileSync(file, [1, 2, 3].map((i) =>
      JSON.stringify({ id: `p${i}`, prompt: 'q', chosen: 'a', rejected: 'b' })).join('\n'));
    await expect(readPairsJsonl(file, { maxPairs: 2 })).rejects
      .toThrow(/holds more than 2 pairs/);
  });
});

describe('data snapshot', () => {
  it('round-trips and refuses a damaged one', async () => {
    const dir = path.join(scratch('snap'), 'data');
    const snapshot = {
      source: { kind: 'file' as const, name: 'pairs.jsonl', sha256: 'ab', rejected: ['line 2: x'],
        duplicates: 1 },
      pairs: [{ pairId: 'a', prompt: [user('q')], chosen: 'c', rejected: 'r' }],
    };
    await writeSnapshot(dir, snapshot);
    expect(await readSnapshot(dir)).toEqual(snapshot);
    writeFileSync(path.join(dir, 'pairs.jsonl'), '');
    await expect(readSnapshot(dir)).rejects.toThrow(/damaged data snapshot/);
    expect(await readSnapshot(path.join(dir, 'none'))).toBeUndefined();
  });
});

describe('seeded order', () => {
  it('draws the same permutation for the same seed and purpose only', () => {
    const a = permutation(50, 42n, 'epoch 0');
    expect(permutation(50, 42n, 'epoch 0')).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(permutation(50, 42n, 'epoch 1')).not.toEqual(a);
    expect(permutation(50, 43n, 'epoch 0')).not.toEqual(a);
  });

  it('holds out a share of the pairs, at least one and never all', () => {
    expect(splitEval(40, 0.1, 1n).evaluation).toHaveLength(4);
    expect(splitEval(40, 0, 1n).evaluation).toHaveLength(0);
    expect(splitEval(3, 0.01, 1n).evaluation).toHaveLength(1);
    expect(splitEval(2, 0.5, 1n).train).toHaveLength(1);
    expect(splitEval(1, 0.5, 1n).evaluation).toHaveLength(0);
    const { train, evaluation } = splitEval(40, 0.25, 9n);
    expect([...train, ...evaluation].sort((x, y) => x - y))
      .toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('walks every pair once per epoch, the last batch of an epoch smaller', () => {
    const plan = new StepPlan(10, 4, 3, 0, 5n);
    expect([plan.stepsPerEpoch, plan.totalSteps]).toEqual([3, 9]);
    const epoch = [1, 2, 3].flatMap((s) => plan.batch(s));
    expect(plan.batch(3)).toHaveLength(2);
    expect([...epoch].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect([4, 5, 6].flatMap((s) => plan.batch(s))).not.toEqual(epoch);
    expect(plan.epochOf(7)).toBe(2);
    expect(new StepPlan(10, 4, 3, 5, 5n).totalSteps).toBe(5);
    expect(new StepPlan(10, 4, 3, 50, 5n).totalSteps).toBe(9);
  });
});
