// Parity with Hugging Face transformers on tiny random Llama 3, Qwen2 (bfloat16 file) and
// Mistral (sharded, sliding window) checkpoints: logits, response log-probs, every DPO-family
// loss and its gradients. Goldens: tools/oracles/engine/hf_tiny.py.
import { describe, expect, it } from 'vitest';
import { Model, Trainer, type LossType } from '../src/index.js';
import { fixture, golden, maxAbs, maxAbsDiff } from './helpers.js';

interface LossGolden {
  config: {
    type: LossType;
    beta: number;
    labelSmoothing: number;
    nllAlpha: number;
    simpoGamma: number;
  };
  loss: number;
  grad_norm: number;
  grad: Record<string, number[]>;
}
interface ModelGolden {
  logits: (number[] | null)[][];
  pair_logps: number[][];
  reference: number[][];
  losses: Record<string, LossGolden>;
}
const goldens = golden<Record<string, ModelGolden>>('hf-tiny.json');
const batch = [[0, 0, 0, 1, 17, 23, 5, 88, 41, 9], [1, 4, 60, 61, 62, 3, 3, 90, 12, 50]];
const mask = [[0, 0, 0, 1, 1, 1, 1, 1, 1, 1], Array<number>(10).fill(1)];
const pairs = [
  { prompt: [1, 17, 23], chosen: [5, 88, 41, 9], rejected: [70, 2] },
  { prompt: [1, 4, 60, 61], chosen: [62, 3], rejected: [3, 90, 12, 50, 7] },
];

describe.each(['llama3', 'qwen2', 'mistral'])('%s checkpoint', (name) => {
  const g = goldens[name]!;

  it('gives the logits transformers gives, with left padding and default positions', async () => {
    const model = await Model.load(fixture(name), { threads: 2 });
    const out = await model.logits({ inputIds: batch, attentionMask: mask });
    let worst = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 10; t++) {
        const want = g.logits[b]![t];
        if (!want) continue;
        const got = out.data.subarray((b * 10 + t) * out.V, (b * 10 + t + 1) * out.V);
        worst = Math.max(worst, maxAbsDiff(got, want) / Math.max(1, maxAbs(want)));
      }
    }
    expect(worst).toBeLessThan(2e-5);
  });

  it('gives the response log-probs transformers gives', async () => {
    const model = await Model.load(fixture(name), { threads: 2 });
    const seqs = pairs.flatMap((p) => [
      { prompt: p.prompt, response: p.chosen },
      { prompt: p.prompt, response: p.rejected },
    ]);
    const got = await model.sequenceLogProbs(seqs);
    got.forEach((s, i) => expect(s.sum).toBeCloseTo(g.pair_logps[i >> 1]![i % 2]!, 4));
    expect(got.map((s) => s.tokens)).toEqual([4, 2, 2, 5]);
  });

  it.each(Object.keys(g.losses))('matches the %s loss value and its gradients', async (kind) => {
    const l = g.losses[kind]!;
    const model = await Model.load(fixture(name), { threads: 2 });
    const trainer = new Trainer(model, {
      loss: { ...l.config },
      optimizer: { lr: 0 },
      schedule: { totalSteps: 1 },
      microBatchSize: 2,
      maxLength: 16,
    });
    const reference = pairs.map((p, i) => ({
      chosen: g.reference[i]![0]!, rejected: g.reference[i]![1]!,
      chosenTokens: p.chosen.length, rejectedTokens: p.rejected.length,
    }));
    const m = await trainer.computeGradients({ pairs, reference });
    expect(m.loss).toBeCloseTo(l.loss, 5);
    expect(Math.abs(m.gradNorm - l.grad_norm) / l.grad_norm).toBeLessThan(1e-4);
    for (const [tensor, want] of Object.entries(l.grad)) {
      const got = trainer.readGradient(tensor);
      expect(maxAbsDiff(got, want) / Math.max(1e-6, maxAbs(want))).toBeLessThan(1e-4);
    }
  });
});
