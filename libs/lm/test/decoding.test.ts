// Decoding on ONNX Runtime: padding, the KV cache, seeds, limits and cancellation, on the tiny
// random Llama 3 model (fixtures/tiny-models.json) with the fixture tokenizer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel, LmError, type GenerationRequest, type TokenEvent } from '../src/index.js';
import { one, tinyModelFolder } from './helpers.js';

let lm: LanguageModel;
beforeAll(async () => {
  lm = await LanguageModel.load(tinyModelFolder('llama3'), { threads: 1 });
});
afterAll(async () => {
  await lm.dispose();
});

const PROMPTS = [
  'Janet has 16 eggs and eats three.',
  'How many',
  'A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?',
  'Tom',
];
const SAMPLED = { temperature: 1.0, topK: 50, topP: 0.9 };

describe('left padding (CASES 15)', () => {
  it('gives a padded prompt in a batch the same greedy output as the prompt alone', async () => {
    const alone = [];
    for (const prompt of PROMPTS)
      alone.push((await lm.generate([{ prompt, maxNewTokens: 16 }]))[0]![0]!);
    const batched = (
      await lm.generate(
        PROMPTS.map((prompt) => ({ prompt, maxNewTokens: 16 })),
        { batchSize: 4 },
      )
    ).map((r) => r[0]!);
    expect(batched.map((r) => r.tokenIds)).toEqual(alone.map((r) => r.tokenIds));
    expect(new Set(batched.map((r) => r.promptTokens)).size).toBe(4);
    expect(alone.some((r) => r.tokenIds.length > 4)).toBe(true);
  });

  it('does not depend on the pad token id (CASES 7)', async () => {
    const other = await LanguageModel.load(
      tinyModelFolder('llama3', { generationConfig: { eos_token_id: [1, 4], pad_token_id: 300 } }),
      { threads: 1 },
    );
    try {
      const reqs = PROMPTS.map((prompt) => ({ prompt, maxNewTokens: 12 }));
      const a = await lm.generate(reqs, { batchSize: 4 });
      const b = await other.generate(reqs, { batchSize: 4 });
      expect(b.map((r) => r[0]!.tokenIds)).toEqual(a.map((r) => r[0]!.tokenIds));
    } finally {
      await other.dispose();
    }
  });
});

describe('KV cache (CASES 16)', () => {
  it('generates what recomputing the whole sequence each step generates', async () => {
    const reqs = PROMPTS.map((prompt) => ({ prompt, maxNewTokens: 20 }));
    const cached = await lm.generate(reqs, { batchSize: 4 });
    const recomputed = await lm.generate(reqs, { batchSize: 4, recompute: true });
    expect(cached.map((r) => r[0]!.tokenIds)).toEqual(recomputed.map((r) => r[0]!.tokenIds));
  });

  it('feeds one new token per step after the prompt', async () => {
    const prompt = { promptIds: [0, 49, 275, 321, 338, 315], maxNewTokens: 10, stopTokenIds: [] };
    const before = { ...lm.stats };
    const result = await one(lm, prompt);
    expect(result.finishReason).toBe('length');
    // One prefill of 6 tokens, then 9 steps of 1 token: the 10th token is never fed back.
    expect(lm.stats.modelCalls - before.modelCalls).toBe(10);
    expect(lm.stats.tokensFed - before.tokensFed).toBe(6 + 9);

    const mid = { ...lm.stats };
    await lm.generate([prompt], { recompute: true });
    expect(lm.stats.tokensFed - mid.tokensFed).toBe(6 + (7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15));
  });
});

describe('seeds (CASES 19)', () => {
  const target: GenerationRequest = {
    prompt: PROMPTS[0]!,
    sampling: SAMPLED,
    seed: 1234,
    maxNewTokens: 24,
    n: 3,
  };

  it('gives the same samples for the same seed and different ones for another seed', async () => {
    const a = (await lm.generate([target]))[0]!;
    const b = (await lm.generate([target]))[0]!;
    const c = (await lm.generate([{ ...target, seed: 99 }]))[0]!;
    expect(b.map((s) => s.tokenIds)).toEqual(a.map((s) => s.tokenIds));
    expect(c.map((s) => s.tokenIds)).not.toEqual(a.map((s) => s.tokenIds));
    expect(new Set(a.map((s) => s.tokenIds.join(','))).size).toBe(3);
    expect(a.every((s) => s.seed === 1234n)).toBe(true);
  });

  it("keeps a seeded request's samples whatever else is in the batch", async () => {
    const alone = (await lm.generate([target], { batchSize: 1 }))[0]!;
    const others: GenerationRequest[] = [
      { prompt: PROMPTS[2]!, sampling: SAMPLED, seed: 7, n: 2, maxNewTokens: 30 },
      { prompt: PROMPTS[1]!, maxNewTokens: 5 },
      { prompt: PROMPTS[3]!, sampling: { temperature: 0.7 }, maxNewTokens: 40 },
    ];
    const mixed = await lm.generate([others[0]!, target, others[1]!, others[2]!], { batchSize: 8 });
    const reordered = await lm.generate([others[2]!, others[1]!, target], { batchSize: 3 });
    expect(mixed[1]!.map((s) => s.tokenIds)).toEqual(alone.map((s) => s.tokenIds));
    expect(reordered[2]!.map((s) => s.tokenIds)).toEqual(alone.map((s) => s.tokenIds));
  });

  it('draws a seed when none is given and reports it, so a response can be replayed', async () => {
    const first = await one(lm, { prompt: 'Tom', sampling: SAMPLED, maxNewTokens: 12 });
    const again = await one(lm, {
      prompt: 'Tom',
      sampling: SAMPLED,
      maxNewTokens: 12,
      seed: first.seed,
    });
    expect(again.tokenIds).toEqual(first.tokenIds);
  });
});

describe('limits', () => {
  it('stops at maxNewTokens with finish reason length and counts tokens', async () => {
    const r = await one(lm, { promptIds: [0, 60, 61, 62], maxNewTokens: 7, stopTokenIds: [] });
    expect(r.finishReason).toBe('length');
    expect(r.completionTokens).toBe(7);
    expect(r.tokenIds.length).toBe(7);
    expect(r.promptTokens).toBe(4);
  });

  it('stops at the context length (128) even when maxNewTokens allows more', async () => {
    const promptIds = Array.from({ length: 120 }, (_, i) => 20 + (i % 400));
    const r = await one(lm, { promptIds, maxNewTokens: 50 });
    expect(r.finishReason).toBe('length');
    expect(r.completionTokens).toBe(8);
  });

  it('rejects a prompt that leaves no room in the context, naming the request', async () => {
    const promptIds = Array.from({ length: 128 }, () => 40);
    const call = lm.generate([{ prompt: 'ok' }, { id: 'gsm8k-7', promptIds }]);
    await expect(call).rejects.toThrow(LmError);
    await expect(call).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG' });
    await expect(call).rejects.toThrow(
      /request 1 \(id gsm8k-7\): the prompt has 128 tokens; the model's context is 128/,
    );
  });

  it('rejects bad sampling settings and token ids outside the vocabulary', async () => {
    await expect(lm.generate([{ prompt: 'x', sampling: { temperature: -1 } }])).rejects.toThrow(
      /request 0: temperature/,
    );
    await expect(lm.generate([{ promptIds: [0, 512] }])).rejects.toThrow(
      /token id 512 is outside the vocabulary of 512/,
    );
    await expect(lm.generate([{ prompt: 'x', n: 0 }])).rejects.toThrow(
      /n must be a positive integer/,
    );
  });
});

describe('cancellation and streaming', () => {
  it('ends unfinished responses with finish reason cancelled when the signal aborts', async () => {
    const controller = new AbortController();
    let tokens = 0;
    const out = await lm.generate(
      [
        { prompt: PROMPTS[0]!, maxNewTokens: 60, stopTokenIds: [] },
        { prompt: PROMPTS[1]!, maxNewTokens: 60 },
      ],
      {
        signal: controller.signal,
        onToken: (e) => {
          if (e.tokenId !== null && ++tokens === 6) controller.abort();
        },
      },
    );
    for (const [r] of out) {
      expect(r!.finishReason === 'cancelled' || r!.finishReason === 'stop').toBe(true);
      expect(r!.completionTokens).toBeLessThan(60);
    }
    expect(out.some(([r]) => r!.finishReason === 'cancelled')).toBe(true);
  });

  it('streams pieces that add up to each final text, ending with the finish reason', async () => {
    const events: TokenEvent[] = [];
    const out = await lm.generate(
      PROMPTS.map((prompt) => ({ prompt, maxNewTokens: 20, sampling: SAMPLED, seed: 5, n: 2 })),
      { onToken: (e) => events.push(e), batchSize: 3 },
    );
    out.forEach((samples, r) =>
      samples.forEach((s, i) => {
        const mine = events.filter((e) => e.request === r && e.sample === i);
        expect(mine.map((e) => e.text).join('')).toBe(s.text);
        expect(mine.filter((e) => e.tokenId !== null).length).toBe(
          s.tokenIds.length - (s.finishReason === 'stop' ? 1 : 0),
        );
        expect(mine.at(-1)!.finishReason).toBe(s.finishReason);
      }),
    );
  });
});
