// The adapter from libs/lm's ONNX Runtime model to libs/evals' model interfaces, on a real tiny
// exported model: batch size never changes a score (CASES 23), both paths feed the model the
// same templated prompt tokens (CASES 21), seeded sampling ignores batching (CASES 19).
import path from 'node:path';
import {
  EvalError,
  getTask,
  gsm8k,
  plainTemplate,
  renderPrompt,
  runTask,
  type ChatMessage,
  type Task,
  type TaskDoc,
} from '@delta/evals';
import { LanguageModel } from '@delta/lm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmEvalModel, promptInput } from '../src/index.js';
import { FIXTURES, SHARED_DATA, tempDir, writeTinyModel } from './support/model.js';

const opened: LanguageModel[] = [];
afterAll(async () => {
  await Promise.all(opened.map((lm) => lm.dispose()));
});

async function load(options: Parameters<typeof writeTinyModel>[1] = {}): Promise<LanguageModel> {
  const lm = await LanguageModel.load(writeTinyModel(tempDir('model'), options), { threads: 1 });
  opened.push(lm);
  return lm;
}

/** Records the prompt token ids LanguageModel computes, per entry point. */
function recordPrompts(lm: LanguageModel): { generate: number[][]; score: number[][] } {
  const seen = { generate: [] as number[][], score: [] as number[][] };
  let into: number[][] = seen.generate;
  const promptIds = lm.promptIds.bind(lm);
  lm.promptIds = (input, name) => {
    const ids = promptIds(input, name);
    into.push(ids);
    return ids;
  };
  const generate = lm.generate.bind(lm);
  const logLikelihood = lm.logLikelihood.bind(lm);
  lm.generate = (r, o) => ((into = seen.generate), generate(r, o));
  lm.logLikelihood = (r, o) => ((into = seen.score), logLikelihood(r, o));
  return seen;
}

describe('batch size never changes a score on an ONNX Runtime model (CASES 23)', () => {
  let lm: LanguageModel;
  let gsmDocs: TaskDoc[];
  let mcDocs: TaskDoc[];
  let mmlu: Task;
  beforeAll(async () => {
    lm = await load();
    gsmDocs = (await gsm8k.load(path.join(SHARED_DATA, 'gsm8k/test.jsonl'))).slice(0, 20);
    mmlu = getTask('mmlu');
    mcDocs = await mmlu.load(path.join(FIXTURES, 'mc.jsonl'));
  });

  it('gives GSM8K the same replies and metrics at batch size 1 and 16', async () => {
    const batches: number[] = [];
    const model = lmEvalModel(lm, { onBatch: (f) => batches.push(f.requests) });
    const sampling = { maxNewTokens: 12 };
    const one = await runTask(model, gsm8k, gsmDocs, { batchSize: 1, sampling });
    const sixteen = await runTask(model, gsm8k, gsmDocs, { batchSize: 16, sampling });

    expect(batches).toEqual([...Array(20).fill(1), 16, 4]);
    expect(sixteen.items.map((i) => i.response)).toEqual(one.items.map((i) => i.response));
    expect(sixteen.result).toEqual(one.result);
    expect(new Set(one.items.map((i) => i.response)).size).toBeGreaterThan(10);
    expect(one.items.every((i) => i.finishReason === 'length')).toBe(true);
    expect(one.result.metrics.map((m) => m.n)).toEqual([20, 20]);
  });

  it('gives multiple choice the same choices and metrics at batch size 1 and 16', async () => {
    const model = lmEvalModel(lm);
    const one = await runTask(model, mmlu, mcDocs, { batchSize: 1 });
    const sixteen = await runTask(model, mmlu, mcDocs, { batchSize: 16 });

    expect(sixteen.result).toEqual(one.result);
    const chosen = (run: typeof one) => run.items.map((i) => i.detail.chosen);
    expect(chosen(sixteen)).toEqual(chosen(one));
    // Log-probs agree to rounding: a padded row sums in another order in ONNX Runtime's kernels.
    const a = one.items.flatMap((i) => i.detail.logprobs as number[]);
    const b = sixteen.items.flatMap((i) => i.detail.logprobs as number[]);
    expect(a).toHaveLength(32);
    a.forEach((lp, k) => {
      expect(lp).toBeLessThan(0);
      expect(Math.abs(lp - b[k]!)).toBeLessThan(1e-5);
    });
  });

  it('draws seeded samples that do not depend on the batch (CASES 19)', async () => {
    const model = lmEvalModel(lm);
    const sampling = { maxNewTokens: 8, temperature: 1, seed: 7 };
    const docs = gsmDocs.slice(0, 8);
    const one = await runTask(model, gsm8k, docs, { batchSize: 1, sampling });
    const eight = await runTask(model, gsm8k, docs, { batchSize: 8, sampling });
    const other = await runTask(model, gsm8k, docs, {
      batchSize: 8, sampling: { ...sampling, seed: 8 },
    });
    const greedy = await runTask(model, gsm8k, docs, {
      batchSize: 8, sampling: { maxNewTokens: 8 },
    });

    const texts = (r: typeof one) => r.items.map((i) => i.response);
    expect(texts(eight)).toEqual(texts(one));
    expect(texts(other)).not.toEqual(texts(one));
    expect(texts(greedy)).not.toEqual(texts(one));
  });
});

describe('one prompt path for generation and log-likelihood (CASES 21)', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: 'Question: What is 9 plus 5?' },
    { role: 'assistant', content: 'The answer is 14.' },
    { role: 'user', content: 'Question: What is 12 divided by 4?' },
  ];

  async function bothPaths(lm: LanguageModel) {
    const seen = recordPrompts(lm);
    const model = lmEvalModel(lm);
    await model.generate([{ messages, sampling: { maxNewTokens: 2 } }], { batchSize: 1 });
    await model.logLikelihood([{ messages, continuation: ' 3' }], { batchSize: 1 });
    return seen;
  }

  it('renders the chat template once, with one BOS, on both paths', async () => {
    const lm = await load();
    const seen = await bothPaths(lm);
    const tokenizer = lm.files.tokenizer!;
    const expected = tokenizer.encode(tokenizer.renderChat(messages, true), false);

    expect(seen.generate).toEqual([expected]);
    expect(seen.score).toEqual([expected]);
    expect(expected.filter((t) => t === 0)).toEqual([0]);
    expect(expected[0]).toBe(0);
    const text = tokenizer.decode(expected, false);
    expect(text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>'))
      .toBe(true);
    expect(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
  });

  it('falls back to the plain template, as raw text with BOS, on both paths', async () => {
    const lm = await load({ chatTemplate: false });
    const seen = await bothPaths(lm);
    const text = renderPrompt(plainTemplate, messages);
    const expected = lm.files.tokenizer!.encode(text, true);

    expect(promptInput(lm, messages)).toEqual({ prompt: text });
    expect(seen.generate).toEqual([expected]);
    expect(seen.score).toEqual([expected]);
    expect(expected.filter((t) => t === 0)).toEqual([0]);
  });
});

describe('lmEvalModel failures', () => {
  let lm: LanguageModel;
  beforeAll(async () => { lm = await load(); });

  it('stops at the next call once its signal is aborted', async () => {
    const controller = new AbortController();
    const model = lmEvalModel(lm, { signal: controller.signal });
    controller.abort();
    const request = { messages: [{ role: 'user' as const, content: 'hi' }], sampling: {} };
    await expect(model.generate([request], { batchSize: 1 }))
      .rejects.toMatchObject({ name: 'AbortError' });
    await expect(model.logLikelihood([{ context: 'a', continuation: ' b' }], { batchSize: 1 }))
      .rejects.toMatchObject({ name: 'AbortError' });
  });

  it('names the item whose prompt does not fit in the context', async () => {
    const model = lmEvalModel(lm);
    const long = 'many words '.repeat(800);
    const messages = [{ role: 'user' as const, content: long }];
    const request = { id: 'item-7', messages, sampling: {} };
    await expect(model.generate([request], { batchSize: 1 }))
      .rejects.toMatchObject({
        code: 'PROMPT_TOO_LONG', message: expect.stringMatching(/id item-7/),
      });
  });

  it('refuses a conversation that does not end with the user', async () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'yo' },
    ];
    expect(() => promptInput(lm, messages)).toThrow(EvalError);
  });
});
