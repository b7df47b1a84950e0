// Ending responses: the stop set is the union of every end token the model's files name
// (CASES 17), and stop strings match only the response, are cut from the returned text and are
// never streamed in part (CASES 18).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LanguageModel, type TokenEvent } from '../src/index.js';
import { FIXTURES, one, tinyModelFolder } from './helpers.js';

const vocab = (
  JSON.parse(readFileSync(join(FIXTURES, 'tokenizer', 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  }
).model.vocab;
const tokenString = (id: number): string => Object.entries(vocab).find(([, v]) => v === id)![0];

const PROMPT = 'Janet has 16 eggs and eats three.';
let lm: LanguageModel;
let base: { tokenIds: number[]; text: string };
beforeAll(async () => {
  lm = await LanguageModel.load(tinyModelFolder('llama3'), { threads: 1 });
  base = (await lm.generate([{ prompt: PROMPT, maxNewTokens: 40 }]))[0]![0]!;
});
const opened: LanguageModel[] = [];
afterAll(async () => {
  for (const m of [lm, ...opened]) await m.dispose();
});

/** The first generated token not seen before position `from`: stopping on it ends there. */
function freshToken(from: number): { index: number; id: number } {
  for (let k = from; k < base.tokenIds.length; k++) {
    if (!base.tokenIds.slice(0, k).includes(base.tokenIds[k]!))
      return { index: k, id: base.tokenIds[k]! };
  }
  throw new Error('no fresh token');
}

describe('the stop set (CASES 17)', () => {
  it('is the union of the end tokens of config, generation config and tokenizer config', async () => {
    expect([...lm.stopTokenIds].sort((a, b) => a - b)).toEqual([1, 4]);
    const fresh = freshToken(2);
    const dir = tinyModelFolder('llama3', {
      generationConfig: { eos_token_id: 4 },
      tokenizerConfig: {
        bos_token: '<|begin_of_text|>',
        eos_token: { content: tokenString(fresh.id), special: false },
      },
    });
    const other = await LanguageModel.load(dir, { threads: 1 });
    opened.push(other);
    expect([...other.stopTokenIds].sort((a, b) => a - b)).toEqual(
      [1, 4, fresh.id].sort((a, b) => a - b),
    );

    // The token named only by tokenizer_config.json ends generation where it first appears.
    const r = await one(other, { prompt: PROMPT, maxNewTokens: 40 });
    expect(r.finishReason).toBe('stop');
    expect(r.stoppedBy).toBe(fresh.id);
    expect(r.tokenIds).toEqual(base.tokenIds.slice(0, fresh.index + 1));
    expect(r.text).toBe(other.files.tokenizer!.decode(base.tokenIds.slice(0, fresh.index)));
  });

  it('takes generation_config.json eos_token_id as a list', async () => {
    const fresh = freshToken(3);
    const dir = tinyModelFolder('llama3', { generationConfig: { eos_token_id: [4, fresh.id] } });
    const other = await LanguageModel.load(dir, { threads: 1 });
    opened.push(other);
    const r = await one(other, { prompt: PROMPT, maxNewTokens: 40 });
    expect(r.stoppedBy).toBe(fresh.id);
    expect(r.tokenIds.length).toBe(fresh.index + 1);
  });
});

describe('stop strings (CASES 18)', () => {
  /** A 4-character piece of the base text, after its start, no single token of which holds it. */
  function stopInside(): string {
    const tok = lm.files.tokenizer!;
    for (let at = 4; at + 4 <= base.text.length; at++) {
      const s = base.text.slice(at, at + 4);
      if (s.includes('\uFFFD') || base.text.indexOf(s) !== at) continue;
      if (base.tokenIds.some((id) => tok.decode([id]).includes(s))) continue;
      return s;
    }
    throw new Error('no usable stop string in the base text');
  }

  it('ends the response at the stop string and returns the text before it', async () => {
    const stop = stopInside();
    const r = await one(lm, { prompt: PROMPT, maxNewTokens: 40, stop: [stop] });
    expect(r.finishReason).toBe('stop');
    expect(r.stoppedBy).toBe(stop);
    expect(r.text).toBe(base.text.slice(0, base.text.indexOf(stop)));
    // Token ids run up to the token that completed the stop string, and no further.
    expect(r.tokenIds).toEqual(base.tokenIds.slice(0, r.tokenIds.length));
    const tok = lm.files.tokenizer!;
    expect(tok.decode(r.tokenIds)).toContain(stop);
    expect(tok.decode(r.tokenIds.slice(0, -1))).not.toContain(stop);
  });

  it('does not fire on a stop string that only the prompt contains', async () => {
    expect(base.text).not.toContain('eggs');
    const r = await one(lm, { prompt: PROMPT, maxNewTokens: 40, stop: ['eggs', 'Janet'] });
    expect(r.finishReason).toBe('length');
    expect(r.tokenIds).toEqual(base.tokenIds);
  });

  it('does not fire on a partial match: only a prefix appearing lets the response run on', async () => {
    const nearMiss = `${stopInside()}\u0001never`;
    const events: TokenEvent[] = [];
    const r = await one(
      lm,
      { prompt: PROMPT, maxNewTokens: 40, stop: [nearMiss] },
      { onToken: (e) => events.push(e) },
    );
    expect(r.text).toBe(base.text);
    expect(events.map((e) => e.text).join('')).toBe(base.text);
  });

  it('never streams part of a stop string', async () => {
    const stop = stopInside();
    const events: TokenEvent[] = [];
    const r = await one(
      lm,
      { prompt: PROMPT, maxNewTokens: 40, stop: [stop] },
      { onToken: (e) => events.push(e) },
    );
    let shown = '';
    for (const e of events) {
      shown += e.text;
      expect(base.text.startsWith(shown)).toBe(true);
      expect(shown.length).toBeLessThanOrEqual(base.text.indexOf(stop));
    }
    expect(shown).toBe(r.text);
  });

  it('returns the same text as decoding all response tokens at once', async () => {
    const out = await lm.generate(
      [1, 2, 3, 4, 5].map((seed) => ({
        prompt: PROMPT,
        maxNewTokens: 30,
        sampling: { temperature: 1.2 },
        seed,
      })),
    );
    for (const [r] of out) {
      const ids =
        r!.finishReason === 'stop' && typeof r!.stoppedBy === 'number'
          ? r!.tokenIds.slice(0, -1)
          : r!.tokenIds;
      expect(r!.text).toBe(lm.files.tokenizer!.decode(ids));
    }
  });
});
