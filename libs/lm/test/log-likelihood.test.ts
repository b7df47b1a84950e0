// Scoring continuations: log-probs equal a direct computation over the logits, do not depend on
// batch size or prefill chunking, and use the same prompt path as generation (CASES 21, 23).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel } from '../src/index.js';
import { one, tinyModelFolder } from './helpers.js';

const V = 512;
let dir: string;
let lm: LanguageModel;
beforeAll(async () => {
  dir = tinyModelFolder('qwen2');
  lm = await LanguageModel.load(dir, { threads: 1 });
});
const opened: LanguageModel[] = [];
afterAll(async () => {
  for (const m of [lm, ...opened]) await m.dispose();
});

async function directLogProb(ids: number[], from: number): Promise<number> {
  const out = await lm.decoder.step(
    BigInt64Array.from(ids.map(BigInt)),
    new BigInt64Array(ids.length).fill(1n),
    BigInt64Array.from(ids.map((_, i) => BigInt(i))),
    lm.decoder.emptyCache(1),
  );
  let sum = 0;
  for (let t = from; t < ids.length; t++) {
    const row = out.logits.subarray((t - 1) * V, t * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum += row[ids[t]!]! - lse;
  }
  return sum;
}

const messages = [{ role: 'user', content: 'Natalia sold clips to 48 of her friends.' }];

describe('logLikelihood', () => {
  it("sums the continuation tokens' log-probs", async () => {
    const contextIds = lm.promptIds({ prompt: 'Natalia sold clips' });
    const [r] = await lm.logLikelihood([{ promptIds: contextIds, continuation: [300, 301, 45] }]);
    const expected = await directLogProb([...contextIds, 300, 301, 45], contextIds.length);
    expect(r!.logProb).toBeCloseTo(expected, 4);
    expect(r!.continuationTokens).toBe(3);
  });

  it('scores a chat prompt on the ids generation uses, and flags its greedy continuation', async () => {
    const g = await one(lm, { messages, maxNewTokens: 6, stopTokenIds: [] });
    const viaMessages = await lm.logLikelihood([{ messages, continuation: g.tokenIds }]);
    const viaIds = await lm.logLikelihood([
      { promptIds: lm.promptIds({ messages }), continuation: g.tokenIds },
    ]);
    expect(viaMessages[0]!.isGreedy).toBe(true);
    expect(viaMessages[0]!.logProb).toBe(viaIds[0]!.logProb);
    expect(viaMessages[0]!.contextTokens).toBe(lm.promptIds({ messages }).length);
    const [other] = await lm.logLikelihood([
      { messages, continuation: [...g.tokenIds.slice(0, -1), (g.tokenIds.at(-1)! + 1) % V] },
    ]);
    expect(other!.isGreedy).toBe(false);
  });

  it('keeps a token merged across the context boundary in the continuation', async () => {
    const [r] = await lm.logLikelihood([{ prompt: 'Janet has 16', continuation: ' eggs.' }]);
    const whole = lm.promptIds({ prompt: 'Janet has 16 eggs.' });
    expect(r!.contextTokens + r!.continuationTokens).toBe(whole.length);
  });

  it('scores alike at batch size 1 and 5 and with chunked prefill (CASES 23)', async () => {
    const reqs = [
      'Tom',
      'A robe takes 2 bolts',
      'How many',
      'She sells the remainder at the market',
      'x',
    ].map((prompt, i) => ({ prompt, continuation: ` answer ${i}` }));
    const one = await lm.logLikelihood(reqs, { batchSize: 1 });
    const five = await lm.logLikelihood(reqs, { batchSize: 5 });
    const chunkedLm = await LanguageModel.load(dir, { threads: 1, logitsBudgetBytes: 3 * V * 4 });
    opened.push(chunkedLm);
    const chunked = await chunkedLm.logLikelihood(reqs, { batchSize: 2 });
    five.forEach((r, i) => {
      expect(r.logProb).toBeCloseTo(one[i]!.logProb, 4);
      expect(chunked[i]!.logProb).toBeCloseTo(one[i]!.logProb, 4);
      expect(r.isGreedy).toBe(one[i]!.isGreedy);
    });
  });

  it('generates the same greedy tokens with chunked prefill', async () => {
    const chunkedLm = await LanguageModel.load(dir, { threads: 1, logitsBudgetBytes: 2 * V * 4 });
    opened.push(chunkedLm);
    const req = [
      { prompt: 'She sells the remainder at the farmers market daily', maxNewTokens: 12 },
    ];
    const a = await lm.generate(req);
    const b = await chunkedLm.generate(req);
    expect(b[0]![0]!.tokenIds).toEqual(a[0]![0]!.tokenIds);
  });
});
