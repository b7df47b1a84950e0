// Export parity: each architecture's ONNX graph, run on ONNX Runtime, gives transformers' logits
// for the same weights (goldens from tools/oracles/lm/make_goldens.py). Tolerance: 1e-4 absolute
// on logits of magnitude up to ~15, float32 accumulation-order noise being ~1e-5.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '@delta/engine';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LanguageModel,
  convertLlama2c,
  exportOnnx,
  parseDecoderConfig,
  randomDecoderWeights,
  ropeInverseFrequencies,
} from '../src/index.js';
import {
  FIXTURES,
  SHARED_MODELS,
  TINY,
  golden,
  goldenLogits,
  maxAbsDiff,
  tempDir,
  tinyModelFolder,
} from './helpers.js';

const TOLERANCE = 1e-4;
const V = 512;
const models: LanguageModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});

async function stepLogits(lm: LanguageModel, rows: number[][]): Promise<Float32Array[]> {
  const L = Math.max(...rows.map((r) => r.length));
  const B = rows.length;
  const ids = new BigInt64Array(B * L).fill(7n);
  const mask = new BigInt64Array(B * L);
  const pos = new BigInt64Array(B * L).fill(1n);
  rows.forEach((r, b) =>
    r.forEach((t, i) => {
      const at = b * L + (L - r.length) + i;
      ids[at] = BigInt(t);
      mask[at] = 1n;
      pos[at] = BigInt(i);
    }),
  );
  const out = await lm.decoder.step(ids, mask, pos, lm.decoder.emptyCache(B));
  return rows.map((r, b) => out.logits.slice((b * L + L - r.length) * V, (b + 1) * L * V));
}

describe.each(Object.keys(TINY.models))('ONNX export of %s', (name) => {
  const entry = TINY.models[name]!;
  const g = golden(name);
  const dir = tinyModelFolder(name, { tokenizer: false, generationConfig: null });
  const lmPromise = LanguageModel.load(dir, { threads: 1 }).then((lm) => {
    models.push(lm);
    return lm;
  });

  it('writes the same weights as the Python oracle', () => {
    const config = parseDecoderConfig(entry.config, name);
    const hash = createHash('sha256');
    const tensors = randomDecoderWeights(config, entry.seed).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    );
    for (const t of tensors) {
      hash.update(t.name);
      hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    expect(hash.digest('hex')).toBe(g.weightsSha256);
  });

  it('computes the rotary frequencies transformers computes', () => {
    const inv = ropeInverseFrequencies(parseDecoderConfig(entry.config, name));
    expect(inv.length).toBe(g.invFreq.length);
    inv.forEach((v, i) => expect(Math.abs(v - g.invFreq[i]!) / g.invFreq[i]!).toBeLessThan(1e-6));
  });

  it('matches transformers logits for each prompt alone', async () => {
    const lm = await lmPromise;
    for (const [i, ids] of TINY.inputs.entries()) {
      const [logits] = await stepLogits(lm, [ids]);
      expect(maxAbsDiff(logits!, goldenLogits(g.logits[i]!))).toBeLessThan(TOLERANCE);
    }
  });

  it('matches them for prompts of different lengths left-padded into one batch', async () => {
    const lm = await lmPromise;
    const batch = await stepLogits(lm, TINY.inputs);
    batch.forEach((logits, i) =>
      expect(maxAbsDiff(logits, goldenLogits(g.logits[i]!))).toBeLessThan(TOLERANCE),
    );
  });

  it('continues each prompt greedily as transformers does without a cache', async () => {
    const lm = await lmPromise;
    const out = await lm.generate(
      TINY.inputs.map((promptIds) => ({
        promptIds,
        maxNewTokens: TINY.greedyNewTokens,
        stopTokenIds: [],
      })),
    );
    // Stop tokens of config.json still apply; none of the golden continuations contain one.
    expect(out.map((r) => r[0]!.tokenIds)).toEqual(g.greedy);
  });
});

describe('ONNX export with external data', () => {
  it('moves weights to model.onnx_data and keeps the logits', async () => {
    const dir = tinyModelFolder('qwen2', { tokenizer: false, generationConfig: null });
    const result = exportOnnx(dir, { externalDataThreshold: 0 });
    expect(result.externalDataPath).toBe(join(dir, 'onnx', 'model.onnx_data'));
    expect(existsSync(result.externalDataPath!)).toBe(true);
    const lm = await LanguageModel.load(dir, { threads: 1 });
    models.push(lm);
    const [logits] = await stepLogits(lm, [TINY.inputs[0]!]);
    expect(maxAbsDiff(logits!, goldenLogits(golden('qwen2').logits[0]!))).toBeLessThan(TOLERANCE);
  });
});

describe('a real trained model: stories260K from llama2.c', () => {
  it('converts, exports and continues BOS greedily as the oracle does', async () => {
    const dir = tempDir('stories');
    const header = convertLlama2c(join(SHARED_MODELS, 'stories260k', 'stories260K.bin'), dir);
    expect(header).toMatchObject({ dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512 });
    exportOnnx(dir);
    const lm = await LanguageModel.load(dir, { threads: 1 });
    models.push(lm);
    const g = JSON.parse(readFileSync(join(FIXTURES, 'golden', 'stories260k.json'), 'utf8')) as {
      greedy: number[];
      logitsAfterBos: string;
    };
    const [logits] = await stepLogits(lm, [[1]]);
    expect(maxAbsDiff(logits!, goldenLogits(g.logitsAfterBos))).toBeLessThan(TOLERANCE);
    const [[r]] = await lm.generate([{ promptIds: [1], maxNewTokens: g.greedy.length }]);
    expect(r!.tokenIds).toEqual(g.greedy);
  });
});

// The trainer's engine and the served export are two implementations of one model: the logits
// of a checkpoint must agree, or a tuned model would behave differently once served. Both run in
// float32; they differ in summation order only, so the same 1e-4 bound applies.
describe.each(Object.keys(TINY.models))('parity with the native engine: %s', (name) => {
  it('gives the engine\'s forward logits for every prompt, alone and left-padded', async () => {
    const dir = tinyModelFolder(name, { tokenizer: false, generationConfig: null });
    const lm = await LanguageModel.load(dir, { threads: 1 });
    models.push(lm);
    const engine = await Model.load(dir, { threads: 1 });
    const onnx = await stepLogits(lm, TINY.inputs);
    for (const [i, ids] of TINY.inputs.entries()) {
      const native = await engine.logits({ inputIds: [ids] });
      expect(native.T).toBe(ids.length);
      expect(maxAbsDiff(onnx[i]!, native.data)).toBeLessThan(TOLERANCE);
    }
  });
});
