// The trainer around the step: learning-rate schedules, exact resume from a checkpoint, a
// reference cache keyed by what produced it, SFT, flat memory over many steps, and a float32
// finite-difference check of the whole model through the public API.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadTrainerCheckpoint, Model, presets, referenceLogProbs, saveTrainerCheckpoint, Trainer,
  type ScheduleType, type TrainerConfig,
} from '../src/index.js';
import { toyPairs } from './helpers.js';

const V = presets.tiny.vocabSize;
const dirs: string[] = [];
async function scratch(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'delta-engine-train-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const base: TrainerConfig = {
  loss: { type: 'dpo_norm', beta: 2 },
  optimizer: { lr: 2e-3, weightDecay: 0.1 },
  schedule: { type: 'cosine_min_lr', totalSteps: 10, warmupSteps: 2, minLrRatio: 0.1 },
  microBatchSize: 2,
  maxLength: 16,
};

describe('schedules', () => {
  const cos = (p: number) => (1 + Math.cos(Math.PI * p)) / 2;
  const expected: Record<ScheduleType, number[]> = {
    // lr 1, warmup 2 of 6 steps: warmup gives 0.5, 1; then decay progress p = (s - 2) / 4
    // is 0, 0.25, 0.5, 0.75 (Hugging Face's convention: the last step is not at zero).
    constant: [0.5, 1, 1, 1, 1, 1],
    linear: [0.5, 1, 1, 0.75, 0.5, 0.25],
    cosine: [0.5, 1, 1, cos(0.25), 0.5, cos(0.75)],
    cosine_min_lr: [0.5, 1, 1, 0.1 + 0.9 * cos(0.25), 0.55, 0.1 + 0.9 * cos(0.75)],
  };
  const types = Object.keys(expected) as ScheduleType[];
  it.each(types)('%s with warmup gives the documented rates', async (type) => {
    const model = Model.random(presets.tiny, { seed: 1, threads: 1 });
    const pairs = toyPairs(2, V, 1);
    const trainer = new Trainer(model, {
      ...base,
      loss: { type: 'simpo', beta: 1 },
      optimizer: { lr: 1 },
      schedule: { type, totalSteps: 6, warmupSteps: 2, minLrRatio: 0.1 },
    });
    const seen: number[] = [];
    for (let s = 0; s < 6; s++) {
      seen.push((await trainer.computeGradients({ pairs })).lr);
      trainer.handle.setStepsDone(s + 1);
    }
    seen.forEach((lr, i) => expect(lr).toBeCloseTo(expected[type][i]!, 12));
  });
});

describe('checkpoints', () => {
  it('resume bit-exactly: 2 steps, save, 3 steps equals 2 steps, reload, 3 steps', async () => {
    const pairs = toyPairs(4, V, 5);
    const model = Model.random(presets.tiny, { seed: 7, threads: 2 });
    const reference = (await referenceLogProbs(model, pairs, { tokenization: 'toy' })).values;
    const trainer = new Trainer(model, base);
    for (let s = 0; s < 2; s++) await trainer.step({ pairs, reference });
    const dir = path.join(await scratch(), 'ckpt');
    await saveTrainerCheckpoint(trainer, dir, { dataPosition: 8 });
    for (let s = 0; s < 3; s++) await trainer.step({ pairs, reference });

    const resumed = await loadTrainerCheckpoint(dir, { threads: 2 });
    expect(resumed.extra).toEqual({ dataPosition: 8 });
    expect(resumed.trainer.stepsDone).toBe(2);
    let last;
    for (let s = 0; s < 3; s++) last = await resumed.trainer.step({ pairs, reference });
    expect(last!.step).toBe(5);
    for (const p of model.parameters()) {
      const a = Buffer.from(model.readParameter(p.name).buffer);
      const b = Buffer.from(resumed.model.readParameter(p.name).buffer);
      expect(a.equals(b), p.name).toBe(true);
    }
    expect((await readdir(dir)).sort()).toEqual(['model', 'optimizer.safetensors', 'trainer_state.json']);
  });
});

describe('reference cache', () => {
  it('is computed once, then read; a change of model, data or tokenization is a new key', async () => {
    const cacheDir = await scratch();
    const pairs = toyPairs(6, V, 8);
    const model = Model.random(presets.tiny, { seed: 2, threads: 1 });
    const options = { tokenization: 'chat-v1', cacheDir };
    const first = await referenceLogProbs(model, pairs, { ...options, batchSize: 4 });
    const second = await referenceLogProbs(model, pairs, { tokenization: 'chat-v1', cacheDir });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.values).toEqual(first.values);
    expect(first.values[0]!.chosenTokens).toBe(pairs[0]!.chosen.length);
    const [scored] = await model.sequenceLogProbs([{ prompt: pairs[0]!.prompt, response: pairs[0]!.chosen }]);
    expect(scored!.mean).toBeCloseTo(first.values[0]!.chosen / pairs[0]!.chosen.length, 6);

    const keys = new Set([first.key]);
    keys.add((await referenceLogProbs(model, pairs, { tokenization: 'chat-v2', cacheDir })).key);
    keys.add((await referenceLogProbs(model, pairs.slice(1), options)).key);
    const other = Model.random(presets.tiny, { seed: 3, threads: 1 });
    keys.add((await referenceLogProbs(other, pairs, { tokenization: 'chat-v1', cacheDir })).key);
    expect(keys.size).toBe(4);
    expect((await readdir(cacheDir)).length).toBe(4);
  });
});

describe('SFT', () => {
  it('lowers the token NLL of the responses and normalises by all response tokens', async () => {
    const model = Model.random(presets.tiny, { seed: 4, threads: 2 });
    const examples = toyPairs(8, V, 3).map((p) => ({ prompt: p.prompt, response: p.chosen }));
    const trainer = new Trainer(model, {
      ...base,
      loss: { type: 'sft' },
      optimizer: { lr: 1e-2 },
      schedule: { type: 'constant', totalSteps: 30 },
      microBatchSize: 3,
    });
    const scored = await model.sequenceLogProbs(examples);
    const tokens = scored.reduce((a, s) => a + s.tokens, 0);
    const nll = -scored.reduce((a, s) => a + s.sum, 0) / tokens;
    const first = await trainer.step({ examples });
    expect(first.loss).toBeCloseTo(nll, 5);
    expect(first.lossTokens).toBe(tokens);
    let last = first;
    for (let s = 0; s < 29; s++) last = await trainer.step({ examples });
    expect(last.loss).toBeLessThan(first.loss / 2);
  });
});

describe('memory (case 8)', () => {
  it('stays flat over many steps with varying lengths', async () => {
    const model = Model.random(presets.tiny, { seed: 6, threads: 2 });
    const all = toyPairs(64, V, 12);
    const reference = (await referenceLogProbs(model, all, { tokenization: 'toy' })).values;
    const trainer = new Trainer(model, { ...base, schedule: { totalSteps: 200 }, microBatchSize: 4 });
    const arena = trainer.arenaBytes;
    const batchAt = (s: number) => {
      const n = 1 + (s % 8); // 1..8 pairs of varying lengths
      const at = (s * 5) % (64 - n);
      return { pairs: all.slice(at, at + n), reference: reference.slice(at, at + n) };
    };
    for (let s = 0; s < 20; s++) await trainer.step(batchAt(s));
    const rss = process.memoryUsage().rss;
    for (let s = 20; s < 200; s++) await trainer.step(batchAt(s));
    expect(trainer.arenaBytes).toBe(arena);
    expect(process.memoryUsage().rss - rss).toBeLessThan(16 * 2 ** 20);
  });
});

describe('whole-model gradient in float32', () => {
  it('matches central differences along each tensor\'s gradient direction', async () => {
    const config = { ...presets.tiny, qkvBias: true, slidingWindow: 6, tieWordEmbeddings: true };
    const model = Model.random(config, { seed: 9, threads: 1, initStd: 0.2 });
    const pairs = toyPairs(3, V, 4);
    const reference = (await referenceLogProbs(model, pairs, { tokenization: 'toy' })).values
      .map((r, i) => ({ ...r, chosen: r.chosen - 0.3 * i, rejected: r.rejected + 0.2 }));
    const trainer = new Trainer(model, { ...base, loss: { type: 'sigmoid', beta: 0.7 }, microBatchSize: 2 });
    await trainer.computeGradients({ pairs, reference });
    // Read every gradient first: each evaluation below overwrites them.
    const grads = new Map(model.parameters().map((p) => [p.name, trainer.readGradient(p.name)]));
    for (const p of model.parameters()) {
      const g = grads.get(p.name)!;
      const norm = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
      if (norm < 1e-6) continue;
      const w = model.readParameter(p.name);
      const h = 3e-3;
      const at = async (sign: number) => {
        model.writeParameter(p.name, w.map((x, i) => x + (sign * h * g[i]!) / norm));
        return (await trainer.computeGradients({ pairs, reference })).loss;
      };
      const fd = ((await at(1)) - (await at(-1))) / (2 * h);
      model.writeParameter(p.name, w);
      expect(Math.abs(fd - norm) / norm, p.name).toBeLessThan(2e-2);
    }
  });
});
