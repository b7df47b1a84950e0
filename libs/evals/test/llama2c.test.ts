// Runs tasks on a real network (stories260K through the TypeScript forward pass in
// support/llama2c.ts): batch size 1 and 16 give identical replies, log-probs and scores.
// services/evaluator/test/lm-model.test.ts makes the same check on an ONNX Runtime model.
import { beforeAll, describe, expect, it } from 'vitest';

import { chatModel, getTask, gsm8k, plainTemplate, runTask, type TaskDoc } from '../src/index.js';
import { stories260k } from './support/llama2c.js';
import { shared, testFile } from './support/paths.js';

const checkpoint = shared('models/stories260k/stories260K.bin');

describe('stories260K test model', () => {
  it('decodes greedily from BOS the ids a plain-Python forward pass gives', async () => {
    // Golden: tools/oracles/evals/stories260k_greedy.py.
    const [reply] = await stories260k(checkpoint).complete([{ prompt: '', sampling: { maxNewTokens: 12 } }]);
    expect(reply!.text).toBe('<461><461><401><401><401><461><378><455><473><456><435><299>');
  });
});

describe('batch size never changes a score (real model)', () => {
  let gsmDocs: TaskDoc[];
  let mcDocs: TaskDoc[];
  beforeAll(async () => {
    gsmDocs = (await gsm8k.load(shared('data/gsm8k/test.jsonl'))).slice(0, 20);
    mcDocs = await getTask('mmlu_cloze').load(testFile('fixtures/mc.jsonl'));
  });

  it('generation: same replies and metrics at batch size 1 and 16', async () => {
    const sampling = { maxNewTokens: 8 };
    const small = stories260k(checkpoint);
    const large = stories260k(checkpoint);
    const one = await runTask(chatModel(small, plainTemplate), gsm8k, gsmDocs, { batchSize: 1, sampling });
    const sixteen = await runTask(chatModel(large, plainTemplate), gsm8k, gsmDocs, { batchSize: 16, sampling });
    expect(small.batches).toEqual(Array(20).fill(1));
    expect(large.batches).toEqual([16, 4]);
    expect(sixteen.items.map((i) => i.response)).toEqual(one.items.map((i) => i.response));
    expect(one.items.every((i) => i.finishReason === 'length' && i.response!.length > 0)).toBe(true);
    expect(sixteen.result).toEqual(one.result);
  });

  it('log-likelihood: same log-probs and accuracies at batch size 1 and 16', async () => {
    const task = getTask('mmlu_cloze');
    const one = await runTask(chatModel(stories260k(checkpoint), plainTemplate), task, mcDocs, { batchSize: 1 });
    const sixteen = await runTask(chatModel(stories260k(checkpoint), plainTemplate), task, mcDocs, { batchSize: 16 });
    expect(sixteen.items.map((i) => i.detail.logprobs)).toEqual(one.items.map((i) => i.detail.logprobs));
    expect(sixteen.result).toEqual(one.result);
    for (const lp of one.items.flatMap((i) => i.detail.logprobs as number[])) {
      expect(lp).toBeLessThan(0);
      expect(Number.isFinite(lp)).toBe(true);
    }
  });
});
