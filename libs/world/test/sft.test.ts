// SFT of a rung on the engine: the model learns the task's format (the loss falls far below
// the uniform ln 51), two runs with the same seed end with identical weights, and a third
// with another seed does not.
import { describe, expect, it } from 'vitest';

import {
  DEFAULT_RECIPE, initRung, rungConfig, tokenizeExample, trainSft, worldData,
  type SftSettings, type TextExample,
} from '../src/index.js';

const data = worldData({ ...DEFAULT_RECIPE,
  arith: { ...DEFAULT_RECIPE.arith, evalCount: 10, pairCount: 10, trainCount: 2000 } }, 1);
const examples: TextExample[] = data.arith.train.map((x) => ({ prompt: x.prompt,
  response: x.solution }));
const shape = DEFAULT_RECIPE.rungs.weak.shape;
const settings: SftSettings = { ...DEFAULT_RECIPE.rungs.weak.sft, steps: 120, warmupSteps: 10,
  batchSize: 32 };

describe('trainSft', () => {
  it('builds a Llama of the world\'s vocabulary with the output projections scaled down', () => {
    const c = rungConfig(shape);
    expect([c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.maxPositionEmbeddings])
      .toEqual([51, 32, 2, 4, 256]);
    const m = initRung(shape, 1, 1);
    const rms = (name: string) => {
      const w = m.readParameter(name);
      return Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    };
    // N(0, 0.02) everywhere, o_proj and down_proj times 1/sqrt(2 x 2 layers) = 0.5.
    expect(rms('model.layers.0.self_attn.q_proj.weight')).toBeCloseTo(0.02, 2);
    expect(rms('model.layers.0.self_attn.o_proj.weight')).toBeCloseTo(0.01, 2);
    expect(rms('model.layers.1.mlp.down_proj.weight')).toBeCloseTo(0.01, 2);
  });

  it('scores the response and EOS only: the prompt starts with BOS and is never a target', () => {
    expect(tokenizeExample({ prompt: '1+2=', response: '1+2=3;#3' })).toEqual({
      prompt: [1, 4, 13, 5, 16], response: [4, 13, 5, 16, 6, 17, 18, 6, 2],
    });
  });

  it('learns: the loss falls from ln 51 = 3.93 to under 2 in 120 steps', async () => {
    const model = initRung(shape, 3, 2);
    const losses: number[] = [];
    await trainSft(model, examples, settings, 3, (p) => losses.push(p.loss));
    expect(losses).toHaveLength(120);
    expect(losses[0]).toBeGreaterThan(3.5);
    expect(losses.at(-1)).toBeLessThan(2);
  });

  it('is reproducible: the same seed gives the same weights, another seed other weights', async () => {
    const run = async (seed: number) => {
      const model = initRung(shape, seed, 2);
      await trainSft(model, examples, { ...settings, steps: 8, warmupSteps: 2 }, seed);
      return model.digest();
    };
    const a = await run(5);
    expect(await run(5)).toBe(a);
    expect(await run(6)).not.toBe(a);
  });
});
