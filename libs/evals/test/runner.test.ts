// The runner: batching never changes a result, replies return to their own items, the chat
// template is applied the same way on the generation and the log-likelihood path, and model
// faults surface as errors. Uses a scripted text model; llama2c.test.ts repeats the batch-size
// check with a real network.
import { beforeAll, describe, expect, it } from 'vitest';

import {
  chatModel,
  getTask,
  gsm8k,
  plainTemplate,
  runTask,
  type ChatTemplate,
  type Gsm8kDoc,
  type TextModel,
} from '../src/index.js';
import { shared, testFile } from './support/paths.js';

/**
 * Answers a GSM8K prompt correctly when its question has an even length, else off by one; scores
 * a continuation by a hash of context and continuation. Records what it was sent.
 */
function scriptedModel(golds: Map<string, string>): TextModel & { prompts: string[]; contexts: string[]; batches: number[] } {
  const prompts: string[] = [];
  const contexts: string[] = [];
  const batches: number[] = [];
  const questionOf = (prompt: string) => prompt.slice(prompt.lastIndexOf('Question: ') + 10);
  return {
    name: 'scripted',
    prompts,
    contexts,
    batches,
    async complete(requests) {
      batches.push(requests.length);
      return requests.map(({ prompt }) => {
        prompts.push(prompt);
        const question = questionOf(prompt);
        const gold = Number(golds.get(question));
        const answer = question.length % 2 === 0 ? gold : gold + 1;
        return { text: `Some steps. The answer is ${answer}.`, finishReason: 'stop' as const };
      });
    },
    async score(pairs) {
      batches.push(pairs.length);
      return pairs.map(({ context, continuation }) => {
        contexts.push(context);
        let h = 7;
        for (const ch of context + continuation) h = (h * 31 + ch.charCodeAt(0)) % 1000003;
        return { logprob: -(h % 1000) / 100, isGreedy: false };
      });
    },
  };
}

describe('runTask', () => {
  let docs: Gsm8kDoc[];
  let golds: Map<string, string>;
  beforeAll(async () => {
    docs = (await gsm8k.load(shared('data/gsm8k/test.jsonl'))).slice(0, 40);
    golds = new Map(docs.map((d) => [d.question, d.gold]));
  });

  it('gives the same scores and replies at batch size 1 and 16', async () => {
    const one = await runTask(chatModel(scriptedModel(golds), plainTemplate), gsm8k, docs, { batchSize: 1 });
    const sixteen = await runTask(chatModel(scriptedModel(golds), plainTemplate), gsm8k, docs, { batchSize: 16 });
    expect(sixteen.result).toEqual(one.result);
    expect(sixteen.items).toEqual(one.items);
  });

  it('returns each reply to its own item although batches go longest prompt first', async () => {
    const model = scriptedModel(golds);
    const run = await runTask(chatModel(model, plainTemplate), gsm8k, docs, { batchSize: 16 });
    expect(model.batches).toEqual([16, 16, 8]);
    expect(model.prompts[0]!.length).toBeGreaterThanOrEqual(model.prompts[39]!.length);
    expect(run.items.map((i) => i.score)).toEqual(docs.map((d) => (d.question.length % 2 === 0 ? 1 : 0)));
    const expected = docs.filter((d) => d.question.length % 2 === 0).length / docs.length;
    expect(run.result.metrics.find((m) => m.name === 'exact_match_flexible')!.value).toBe(expected);
  });

  it('fails when a model returns fewer results than requests', async () => {
    const model = chatModel(scriptedModel(golds), plainTemplate);
    const short = { ...model, generate: async () => [] };
    await expect(runTask(short, gsm8k, docs.slice(0, 3))).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'generate() returned 0 results for 3 requests',
    });
  });

  it('fails up front when the model lacks what the task needs', async () => {
    const model = chatModel(scriptedModel(golds), plainTemplate);
    await expect(runTask({ name: 'gen-only', generate: model.generate }, getTask('mmlu'), []))
      .rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('uses the first other items as few-shot examples, never the item itself', async () => {
    const model = scriptedModel(golds);
    const run = await runTask(chatModel(model, plainTemplate), gsm8k, docs.slice(0, 3), { numFewshot: 2 });
    const users = run.items.map((item) => item.messages.filter((m) => m.role === 'user').map((m) => m.content));
    expect(users[0]).toEqual([docs[1], docs[2], docs[0]].map((d) => `Question: ${d!.question}`));
    expect(users[1]).toEqual([docs[0], docs[2], docs[1]].map((d) => `Question: ${d!.question}`));
  });

  it('rejects a batch size that is not a positive integer', async () => {
    await expect(runTask(chatModel(scriptedModel(golds), plainTemplate), gsm8k, docs, { batchSize: 0 }))
      .rejects.toThrow('batch size must be a positive integer, got 0');
  });
});

describe('one chat template for both paths', () => {
  const template: ChatTemplate = {
    name: 'tagged',
    render: (messages) => messages.map((m) => `<|${m.role}|>${m.content}`).join('') + '<|assistant|>',
  };

  it('gives the generation and the log-likelihood path the same prompt text', async () => {
    const model = scriptedModel(new Map());
    const chat = chatModel(model, template);
    const messages = [{ role: 'user' as const, content: 'Question: 1+1?' }];
    await chat.generate([{ messages, sampling: {} }], { batchSize: 1 });
    await chat.logLikelihood([{ messages, continuation: ' 2' }], { batchSize: 1 });
    expect(model.prompts).toEqual(['<|user|>Question: 1+1?<|assistant|>']);
    expect(model.contexts).toEqual(model.prompts);
  });

  it('renders multiple-choice prompts through the template too', async () => {
    const model = scriptedModel(new Map());
    const task = getTask('mmlu');
    const docs = await task.load(testFile('fixtures/mc.jsonl'));
    const run = await runTask(chatModel(model, template), task, docs.slice(0, 1));
    expect(model.contexts).toHaveLength(4);
    expect(new Set(model.contexts)).toEqual(new Set([
      '<|system|>The following are multiple choice questions (with answers) about geography.' +
      '<|user|>What is the capital of France?\nA. Berlin\nB. Paris\nC. Madrid\nD. Rome\nAnswer:<|assistant|>',
    ]));
    expect(run.items[0]!.detail.logprobs).toHaveLength(4);
  });
});
