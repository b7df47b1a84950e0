// Device selection and block recomputation through the public API: a build without CUDA
// refuses device 'cuda' with an error a caller can map, and recomputing activations in the
// backward changes memory, never a number. The CUDA backend's own parity checks are native
// (native/cuda/test) and need a GPU.
import { describe, expect, it } from 'vitest';
import { engineBackends, EngineError, Model, presets, Trainer } from '../src/index.js';
import { toyPairs } from './helpers.js';

describe('device', () => {
  it.skipIf(engineBackends().includes('cuda'))(
    "device 'cuda' on a build without CUDA fails with INVALID_STATE",
    () => {
      let caught: unknown;
      try {
        Model.random(presets.tiny, { seed: 1, threads: 1, device: 'cuda' });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(EngineError);
      expect((caught as EngineError).code).toBe('INVALID_STATE');
      expect((caught as EngineError).message).toMatch(/no CUDA backend.*use device 'cpu'/);
    },
  );

  it('an unknown device name is an INVALID_ARGUMENT', () => {
    const make = () =>
      Model.random(presets.tiny, { seed: 1, threads: 1, device: 'tpu' as 'cpu' });
    expect(make).toThrow(EngineError);
    expect(make).toThrow(/device must be 'cpu' or 'cuda'/);
  });

  it("device 'cpu' is the default and lists first among the backends", async () => {
    expect(engineBackends()[0]).toBe('cpu');
    const a = Model.random(presets.tiny, { seed: 4, threads: 1 });
    const b = Model.random(presets.tiny, { seed: 4, threads: 1, device: 'cpu' });
    const inputs = { inputIds: [[1, 5, 9, 2]] };
    expect((await a.logits(inputs)).data).toEqual((await b.logits(inputs)).data);
  });
});

describe('recompute', () => {
  it('gives the same loss and gradients with a smaller arena', async () => {
    const pairs = toyPairs(4, presets.tiny.vocabSize, 9);
    const run = async (recompute: boolean) => {
      const model = Model.random(presets.tiny, { seed: 2, threads: 1 });
      const trainer = new Trainer(model, {
        loss: { type: 'simpo', beta: 2 },
        optimizer: { lr: 1e-3 },
        schedule: { type: 'constant', totalSteps: 1 },
        microBatchSize: 2,
        maxLength: 16,
        recompute,
      });
      const metrics = await trainer.computeGradients({ pairs });
      const grads = model.parameters().map((p) => trainer.readGradient(p.name));
      return { metrics, grads, bytes: trainer.arenaBytes };
    };
    const kept = await run(false);
    const recomputed = await run(true);
    expect(recomputed.metrics.loss).toBe(kept.metrics.loss);
    expect(recomputed.metrics.gradNorm).toBe(kept.metrics.gradNorm);
    recomputed.grads.forEach((g, i) => expect(g).toEqual(kept.grads[i]));
    expect(recomputed.bytes).toBeLessThan(kept.bytes);
  });
});
