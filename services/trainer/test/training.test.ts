// The training recipe against the training faults of the known failure kinds (cases 8-14), and
// its checkpoints: resume after a stop ends bit-identical to an uninterrupted run, a NaN or
// infinite loss stops the run naming the step and keeping the last good checkpoint, and a
// folder of another spec is refused. Tiny random students; each run takes well under a second.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadTrainerCheckpoint, Model } from '@delta/engine';
import { Code } from '@delta/rpc';
import { beforeAll, describe, expect, it } from 'vitest';
import { PairTokenizer, RunDir, rewardFigures, type TokenizedPair } from '../src/index.js';
import { metricsLines, runDirect, weights } from './support/run.js';
import { scratch } from './support/scratch.js';
import {
  arithmeticPairs, writePairsFile, writeStudent, type ArithmeticPair,
} from './support/student.js';

let root: string;
let student: string;
let pairsFile: string;

beforeAll(async () => {
  root = scratch('training');
  student = await writeStudent(path.join(root, 'student'));
  pairsFile = writePairsFile(path.join(root, 'pairs.jsonl'), arithmeticPairs(40));
});

const out = (name: string) => path.join(root, name);
const steps = (dir: string) => metricsLines(dir).filter((l) => l.split === 'step');

describe('case 10: the loss leaves ln 2', () => {
  it('starts at ln 2 with zero rewards and moves away as the policy learns', async () => {
    const dir = out('ln2');
    const { status } = await runDirect({ student, output: dir, pairsFile,
      settings: { maxSteps: 15, epochs: 5, checkpointEvery: 0 } });
    const lines = steps(dir);
    expect(lines).toHaveLength(15);
    // Policy = reference at step 1, and the cached reference is what the loss compares with.
    expect(lines[0]!.loss).toBeCloseTo(Math.LN2, 12);
    expect(lines[0]!.reward_margin).toBe(0);
    expect(Number(lines[14]!.loss)).toBeLessThan(0.1);
    expect(Number(lines[14]!.reward_margin)).toBeGreaterThan(1);
    expect(status.evalRewardAccuracy).toBe(1);
  });
});

describe('case 13: the same seed gives the same run', () => {
  it('is bit-identical with the same seed and differs with another', async () => {
    const settings = { maxSteps: 8, epochs: 3, checkpointEvery: 0 };
    await runDirect({ student, output: out('seed-a'), pairsFile, settings });
    await runDirect({ student, output: out('seed-b'), pairsFile, settings });
    await runDirect({ student, output: out('seed-c'), pairsFile,
      settings: { ...settings, seed: 7n } });
    const ckpt = (d: string) => path.join(d, 'checkpoints/step-8/model');
    expect(weights(ckpt(out('seed-a'))).equals(weights(ckpt(out('seed-b'))))).toBe(true);
    const losses = (d: string) => steps(out(d)).map((l) => l.loss);
    expect(losses('seed-a')).toEqual(losses('seed-b'));
    expect(weights(ckpt(out('seed-a'))).equals(weights(ckpt(out('seed-c'))))).toBe(false);
  });
});

describe('case 12: gradient accumulation through the service config', () => {
  it('gives the same step with 8 micro-batches of 1 as with one batch of 8', async () => {
    const settings = { maxSteps: 3, epochs: 1, checkpointEvery: 0, batchSize: 8 };
    await runDirect({ student, output: out('micro-1'), pairsFile,
      settings: { ...settings, microBatchSize: 1 } });
    await runDirect({ student, output: out('micro-8'), pairsFile,
      settings: { ...settings, microBatchSize: 8 } });
    const a = steps(out('micro-1'));
    const b = steps(out('micro-8'));
    a.forEach((line, i) => {
      expect(line.loss).toBeCloseTo(Number(b[i]!.loss), 6);
      expect(line.grad_norm).toBeCloseTo(Number(b[i]!.grad_norm), 5);
      expect(line.reward_margin).toBeCloseTo(Number(b[i]!.reward_margin), 6);
    });
    const [m1, m8] = await Promise.all(['micro-1', 'micro-8'].map((n) =>
      Model.load(path.join(out(n), 'checkpoints/step-3/model'), { threads: 1 })));
    for (const p of m1!.parameters()) {
      const x = m1!.readParameter(p.name);
      const y = m8!.readParameter(p.name);
      const worst = x.reduce((w, v, i) => Math.max(w, Math.abs(v - y[i]!)), 0);
      expect(worst, p.name).toBeLessThan(1e-5);
    }
  });
});

describe('case 14: falling chosen log-probs are reported, not corrected', () => {
  it('reports the chosen log-prob of each step while it falls and the margin grows', async () => {
    // Near pairs: the two sides differ only in the number, as delta-learning pairs often do.
    const near = arithmeticPairs(40).map((p, i) => ({
      ...p, rejected: p.chosen.replace(/\d+\.$/, `${i % 10}.`),
    }));
    const file = writePairsFile(path.join(root, 'near.jsonl'), near);
    const dir = out('near');
    const { status } = await runDirect({ student, output: dir, pairsFile: file,
      settings: { maxSteps: 30, epochs: 10, checkpointEvery: 0 } });
    const lines = steps(dir);
    const first = lines[0]!;
    const last = lines.at(-1)!;
    expect(Number(last.logp_chosen)).toBeLessThan(Number(first.logp_chosen));
    expect(Number(last.reward_margin)).toBeGreaterThan(1);
    expect(status.logpChosen).toBe(last.logp_chosen);
    expect(status.logpRejected).toBe(last.logp_rejected);
  });
});

describe('case 11: the evaluation split has cached reference log-probs too', () => {
  it('caches held-out and training pairs together and reads them back on resume', async () => {
    const dir = out('eval');
    const stop = new AbortController();
    const settings = { maxSteps: 10, epochs: 3, checkpointEvery: 4, evalFraction: 0.25 };
    const first = await runDirect({ student, output: dir, pairsFile, settings,
      signal: stop.signal, onStep: (s) => { if (s === 5) stop.abort(); } });
    expect(first.outcome).toBe('stopped');
    expect(first.status.pairsUsed).toBe(30n);

    // One cache file holds all 40 pairs: 30 trained on, 10 held out.
    const cache = readdirSync(path.join(dir, 'reference'));
    expect(cache).toHaveLength(1);
    const values = JSON.parse(readFileSync(path.join(dir, 'reference', cache[0]!), 'utf8'))
      .values as unknown[];
    expect(values).toHaveLength(40);

    const second = await runDirect({ student, output: dir, pairsFile, settings });
    expect(second.outcome).toBe('completed');
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.referenceCached).toBe(true);
    const evals = metricsLines(dir).filter((l) => l.split === 'eval');
    expect(evals.map((l) => l.step)).toEqual([4, 8, 10]);
    expect(evals.every((l) => l.pairs === 10)).toBe(true);
    expect(second.status.evalStep).toBe(10);
    expect(second.status.evalRewardAccuracy).toBe(evals.at(-1)!.reward_accuracy);
    expect(second.status.evalRewardAccuracy).toBeGreaterThan(0.5);
  });
});

describe('reference cache in chunks', () => {
  it('writes one file per chunk of pairs and reads them all back on the next start', async () => {
    const dir = out('chunks');
    const stop = new AbortController();
    const settings = { maxSteps: 6, epochs: 3, checkpointEvery: 0, evalFraction: 0 };
    await runDirect({ student, output: dir, pairsFile, settings, referenceChunk: 16,
      signal: stop.signal, onStep: () => stop.abort() });
    const files = readdirSync(path.join(dir, 'reference'));
    const sizes = files.map((f) => (JSON.parse(readFileSync(path.join(dir, 'reference', f),
      'utf8')).values as unknown[]).length).sort((a, b) => a - b);
    expect(sizes).toEqual([8, 16, 16]);
    await runDirect({ student, output: dir, pairsFile, settings, referenceChunk: 16 });
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.referenceKeys).toHaveLength(3);
    expect(summary.referenceCached).toBe(true);
  });
});

describe('case 8: memory stays flat over steps', () => {
  it('holds resident memory within a few MiB from step 50 to step 300', async () => {
    const dir = out('memory');
    const rss: number[] = [];
    await runDirect({ student, output: dir, pairsFile,
      settings: { maxSteps: 300, epochs: 100, checkpointEvery: 100 },
      onStep: () => { rss.push(process.memoryUsage().rss); } });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const early = median(rss.slice(40, 60));
    const late = median(rss.slice(280, 300));
    expect((late - early) / 2 ** 20).toBeLessThan(16);
  });
});

describe('case 9: no half precision', () => {
  it('keeps rewards finite for logits far beyond the float16 range', async () => {
    // lm_head scaled up: logits reach ~1e5, past float16's 65504, where fp16 log-probs overflow.
    const dir = path.join(root, 'loud');
    await writeStudent(dir);
    const model = await Model.load(dir, { threads: 1 });
    const head = model.readParameter('lm_head.weight').map((v) => v * 3e5);
    model.writeParameter('lm_head.weight', head);
    await model.save(dir);
    const logits = await (await Model.load(dir, { threads: 1 })).logits({ inputIds: [[0, 5, 9]] });
    expect(Math.max(...logits.data.map(Math.abs))).toBeGreaterThan(65504);

    const run = out('loud-run');
    await runDirect({ student: dir, output: run, pairsFile,
      settings: { maxSteps: 2, checkpointEvery: 0, learningRate: 1e-6 } });
    for (const line of metricsLines(run)) {
      for (const [key, value] of Object.entries(line)) {
        if (typeof value === 'number') expect(Number.isFinite(value), key).toBe(true);
      }
    }
    const config = JSON.parse(readFileSync(path.join(run, 'checkpoints/step-2/model/config.json'),
      'utf8'));
    expect(config.torch_dtype).toBe('float32');
  });
});

describe('checkpoints and resume', () => {
  it('ends bit-identical to an uninterrupted run after a stop and a restart', async () => {
    const settings = { maxSteps: 12, epochs: 3, checkpointEvery: 5 };
    await runDirect({ student, output: out('whole'), pairsFile, settings });
    const stop = new AbortController();
    const part = await runDirect({ student, output: out('parts'), pairsFile, settings,
      signal: stop.signal, onStep: (s) => { if (s === 7) stop.abort(); } });
    expect(part.outcome).toBe('stopped');
    expect(part.status.checkpointDir).toBe(path.join(out('parts'), 'checkpoints/step-7'));
    // Cancel leaves a usable checkpoint at the step it stopped after.
    const kept = await loadTrainerCheckpoint(path.join(out('parts'), 'checkpoints/step-7'));
    expect(kept.trainer.stepsDone).toBe(7);

    const rest = await runDirect({ student, output: out('parts'), pairsFile, settings });
    expect(rest.outcome).toBe('completed');
    const final = (d: string) => path.join(d, 'checkpoints/step-12/model');
    expect(weights(final(out('parts'))).equals(weights(final(out('whole'))))).toBe(true);
    expect(steps(out('parts')).map((l) => l.loss)).toEqual(steps(out('whole')).map((l) => l.loss));
    // Two checkpoints are kept, the newest.
    expect(readdirSync(path.join(out('parts'), 'checkpoints')).sort())
      .toEqual(['latest', 'step-10', 'step-12']);
  });

  it('refuses an output folder that holds a run of another spec', async () => {
    const dir = out('taken');
    await runDirect({ student, output: dir, pairsFile, settings: { maxSteps: 1 } });
    await expect(runDirect({ student, output: dir, pairsFile,
      settings: { maxSteps: 1, learningRate: 2e-3 } }))
      .rejects.toMatchObject({ code: Code.FAILED_PRECONDITION,
        message: expect.stringMatching(/holds a run with other settings/) });
  });

  it('answers a complete folder at once, without training again', async () => {
    const dir = out('again');
    const settings = { maxSteps: 3, checkpointEvery: 0 };
    const first = await runDirect({ student, output: dir, pairsFile, settings });
    const before = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
    const second = await runDirect({ student, output: dir, pairsFile, settings });
    expect(second.outcome).toBe('completed');
    expect(second.status.step).toBe(3);
    expect(second.status.loss).toBe(first.status.loss);
    expect(readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')).toBe(before);
  });
});

describe('a non-finite loss', () => {
  it('stops the run naming the step and keeps the last good checkpoint', async () => {
    const dir = out('nan');
    const settings = { maxSteps: 10, epochs: 3, checkpointEvery: 2, loss: 'sigmoid' };
    const stop = new AbortController();
    await runDirect({ student, output: dir, pairsFile, settings, signal: stop.signal,
      onStep: (s) => { if (s === 3) stop.abort(); } });
    await expect(new RunDir(dir).latest()).resolves.toMatchObject({ step: 3 });

    // A reference cache damaged on disk: log-probs of 1e308 overflow beta x margin to infinity.
    const [cache] = readdirSync(path.join(dir, 'reference'));
    const file = path.join(dir, 'reference', cache!);
    const held = JSON.parse(readFileSync(file, 'utf8'));
    held.values = held.values.map((v: Record<string, number>) => ({ ...v, chosen: 1e308 }));
    writeFileSync(file, JSON.stringify(held));

    await expect(runDirect({ student, output: dir, pairsFile, settings })).rejects.toMatchObject({
      code: Code.INTERNAL,
      message: expect.stringMatching(
        /^step 4: .*(Infinity|not finite).*last good checkpoint is .*checkpoints\/step-3/),
    });
    expect(await new RunDir(dir).latest()).toMatchObject({ step: 3 });
    expect(existsSync(path.join(dir, 'checkpoints/step-4'))).toBe(false);
    expect((await loadTrainerCheckpoint(path.join(dir, 'checkpoints/step-3'))).trainer.stepsDone)
      .toBe(3);
  });
});

describe('losses and controls', () => {
  it('trains SFT on the chosen side only, lowering its NLL', async () => {
    const dir = out('sft');
    await runDirect({ student, output: dir, pairsFile,
      settings: { loss: 'sft', maxSteps: 10, epochs: 3, checkpointEvery: 0 } });
    const lines = steps(dir);
    expect(Number(lines.at(-1)!.loss)).toBeLessThan(Number(lines[0]!.loss) - 0.5);
  });

  it('learns the opposite preference with reverse_pairs', async () => {
    const dir = out('reversed');
    await runDirect({ student, output: dir, pairsFile, reversePairs: true,
      settings: { maxSteps: 10, epochs: 3, checkpointEvery: 0, evalFraction: 0 } });
    // Scored against the pairs as written, the reversed run prefers the rejected side.
    const tokenizer = PairTokenizer.fromFolder(student);
    const pairs = arithmeticPairs(40).map((p: ArithmeticPair) => {
      const r = tokenizer.tokenize({ pairId: p.id, ...p }, 256);
      return (r as { pair: TokenizedPair }).pair;
    });
    const reference = await Model.load(student, { threads: 1 });
    const refValues = (await reference.sequenceLogProbs(pairs.flatMap((p) => [
      { prompt: p.prompt, response: p.chosen }, { prompt: p.prompt, response: p.rejected },
    ]))).reduce<{ chosen: number; rejected: number; chosenTokens: number;
      rejectedTokens: number }[]>((acc, s, i) => {
      if (i % 2 === 0) acc.push({ chosen: s.sum, chosenTokens: s.tokens, rejected: 0,
        rejectedTokens: 0 });
      else Object.assign(acc.at(-1)!, { rejected: s.sum, rejectedTokens: s.tokens });
      return acc;
    }, []);
    const tuned = await Model.load(path.join(dir, 'checkpoints/step-10/model'), { threads: 1 });
    const figures = await rewardFigures(tuned, pairs, refValues,
      { beta: 5, lengthNormalised: true, batchSize: 8, maxLength: 256 });
    expect(figures.accuracy).toBeLessThan(0.2);
    expect(figures.margin).toBeLessThan(0);
  });
});
