// The world's generators and data sets: problems of the promised shape, prompt sets that never
// share a prompt, the planted format habits, the same draws for the same seed, and the order
// of training batches.
import { parseArithPrompt, arithAnswer, countSections } from '@delta/evals';
import { describe, expect, it } from 'vitest';

import {
  arithPrompt, batchOrder, DEFAULT_RECIPE, drawArith, drawArithSet, Rng, rungExamples,
  SECTION_PROMPTS, sectionsReply, worldData, type WorldRecipe,
} from '../src/index.js';

const small: WorldRecipe = {
  ...DEFAULT_RECIPE,
  arith: { ...DEFAULT_RECIPE.arith, evalCount: 50, pairCount: 100, trainCount: 400 },
};

describe('arithmetic generator', () => {
  it('draws 3..6 single-digit operands whose running value never drops below zero', () => {
    const rng = new Rng(5);
    const counts = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const p = drawArith(rng, DEFAULT_RECIPE.arith);
      counts.add(p.operands.length);
      expect(p.operands.every((x) => x >= 1 && x <= 9)).toBe(true);
      let acc = p.operands[0]!;
      p.operators.forEach((op, k) => {
        acc += op === '+' ? p.operands[k + 1]! : -p.operands[k + 1]!;
        expect(acc).toBeGreaterThanOrEqual(0);
      });
      expect(parseArithPrompt(arithPrompt(p))).toEqual(p);
    }
    expect([...counts].sort()).toEqual([3, 4, 5, 6]);
  });

  it('never repeats a prompt within or across sets drawn with one exclusion set', () => {
    const seen = new Set<string>();
    const rng = new Rng(1);
    const a = drawArithSet(rng, DEFAULT_RECIPE.arith, 300, seen);
    const b = drawArithSet(rng, DEFAULT_RECIPE.arith, 300, seen);
    const all = [...a, ...b].map((x) => x.prompt);
    expect(new Set(all).size).toBe(600);
    expect(seen.size).toBe(600);
  });

  it('says so when the space of prompts runs out', () => {
    const tiny = { minOperands: 2, maxOperands: 2, maxOperand: 2 };
    // 1+1, 1+2, 2+1, 2+2, 1-1, 2-1, 2-2: seven prompts exist.
    expect(drawArithSet(new Rng(0), tiny, 7, new Set()).length).toBe(7);
    expect(() => drawArithSet(new Rng(0), tiny, 8, new Set())).toThrow(/only 7 of 8/);
  });
});

describe('world data', () => {
  const data = worldData(small, 3);

  it('keeps evaluation, pairing and training prompts apart', () => {
    const evalSet = new Set(data.arith.evaluation.map((x) => x.prompt));
    const others = [...data.arith.pairs, ...data.arith.train].map((x) => x.prompt);
    expect(others.some((p) => evalSet.has(p))).toBe(false);
    expect(data.arith.pairs.some((x) => data.arith.train.includes(x))).toBe(false);
    expect([data.arith.evaluation.length, data.arith.pairs.length, data.arith.train.length])
      .toEqual([50, 100, 400]);
    for (const x of data.arith.train.slice(0, 20)) {
      expect(x.solution.endsWith(`#${arithAnswer(parseArithPrompt(x.prompt)!)}`)).toBe(true);
    }
  });

  it('splits the 120 format prompts into 40 held out and 80 to train on', () => {
    expect(SECTION_PROMPTS).toHaveLength(120);
    expect(new Set(SECTION_PROMPTS).size).toBe(120);
    expect(data.sections.evaluation).toHaveLength(40);
    expect(data.sections.train).toHaveLength(80);
    expect(data.sections.train.some((p) => data.sections.evaluation.includes(p))).toBe(false);
  });

  it('draws the same sets for the same seed and other sets for another', () => {
    expect(worldData(small, 3)).toEqual(data);
    expect(worldData(small, 4).arith.evaluation).not.toEqual(data.arith.evaluation);
  });

  it('plants each rung\'s section habit in 15% of its examples', () => {
    const habits: Record<string, number[]> = {};
    for (const rung of ['weak', 'strong', 'student'] as const) {
      const ex = rungExamples(small, data, rung, 9);
      const format = ex.filter((e) => e.prompt.startsWith('notes on'));
      expect(format.length / ex.length).toBeCloseTo(0.15, 2);
      expect(format.every((e) => data.sections.train.includes(e.prompt))).toBe(true);
      habits[rung] = [...new Set(format.map((e) => countSections(e.response)))].sort();
    }
    expect(habits).toEqual({ weak: [2], strong: [3], student: [2, 3, 4, 5, 6] });
  });

  it('writes sections about the prompt\'s noun', () => {
    const reply = sectionsReply(new Rng(2), 'notes on a red cat:', 3);
    expect(reply).toMatch(/^## cat [a-z]+\.\n## cat [a-z]+\.\n## cat [a-z]+\.$/u);
  });
});

describe('batch order', () => {
  const settings = { ...DEFAULT_RECIPE.rungs.weak.sft, steps: 12, batchSize: 4, bucketWindow: 2 };
  const lengths = Array.from({ length: 20 }, (_, i) => (i * 7) % 13);

  it('is the same for a seed, covers each example once per epoch, and sorts within windows', () => {
    const order = batchOrder(lengths, settings, 1);
    expect(batchOrder(lengths, settings, 1)).toEqual(order);
    expect(batchOrder(lengths, settings, 2)).not.toEqual(order);
    expect(order).toHaveLength(12);
    // 20 examples make 5 batches of 4 per epoch: the first epoch holds each example once.
    expect(order.slice(0, 5).flat().sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    for (const batch of order) {
      const ls = batch.map((i) => lengths[i]!);
      expect(Math.max(...ls) - Math.min(...ls)).toBeLessThanOrEqual(12);
    }
  });
});
