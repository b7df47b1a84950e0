// The world's tokenizer: the direct encoder the ladder trains with gives the same ids as the
// tokenizer.json the services load, the chat template renders `<bos> prompt response <eos>`
// with one BOS, and Hugging Face's own tokenizers library agrees on the ids (golden file).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextTokenizer } from '@delta/lm';
import { describe, expect, it } from 'vitest';

import {
  BOS_ID, CHARACTERS, decode, encode, EOS_ID, tokenizeExample, tokenizerConfig, tokenizerJson,
  VOCAB_SIZE,
} from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const json = () => TextTokenizer.fromJson(tokenizerJson(), tokenizerConfig(), null, 'world');

describe('tokenizer', () => {
  it('has 51 ids: pad, bos, eos, then one per character', () => {
    expect(VOCAB_SIZE).toBe(51);
    expect(encode('0')).toEqual([3]);
    expect(encode('\n')).toEqual([24]);
    expect(encode('az')).toEqual([25, 50]);
  });

  it('encodes every character as tokenizer.json does, and decodes back', () => {
    const t = json();
    const text = `${CHARACTERS}notes on a red cat:\n## cat runs.\n9-6+4+5=9-6=3;3+4=7;#12`;
    expect(t.encode(text, false)).toEqual(encode(text));
    expect(t.decode(encode(text))).toBe(text);
    expect(decode([BOS_ID, ...encode('12'), EOS_ID, ...encode('3')])).toBe('12');
  });

  it('refuses text outside the alphabet, naming the character', () => {
    expect(() => encode('9*X', 'prompt')).toThrow(/prompt: character "X" is outside/);
  });

  it('renders a chat as <bos> prompt response <eos>, the prompt a prefix with one BOS', () => {
    const t = json();
    const user = { role: 'user', content: '9-6+4=' };
    const promptText = t.renderChat([user], true);
    const fullText = t.renderChat([user, { role: 'assistant', content: '9-6=3;3+4=7;#7' }], false);
    const prompt = t.encode(promptText, false);
    const full = t.encode(fullText, false);
    const ex = tokenizeExample({ prompt: '9-6+4=', response: '9-6=3;3+4=7;#7' });
    expect(prompt).toEqual(ex.prompt);
    expect(full).toEqual([...ex.prompt, ...ex.response]);
    expect(full.filter((id) => id === BOS_ID)).toHaveLength(1);
    expect(full.at(-1)).toBe(EOS_ID);
    // Raw text (a service without the template) gets the same BOS from the post-processor.
    expect(t.encode('9-6+4=', true)).toEqual(ex.prompt);
  });

  it('matches the ids Hugging Face tokenizers gives for the same tokenizer.json', () => {
    // Produced by tools/oracles/world/tokenizer_ids.py (Python tokenizers 0.22.1).
    const golden = JSON.parse(readFileSync(path.join(here, 'golden', 'tokenizer-ids.json'),
      'utf8')) as { text: string; ids: number[]; ids_with_special: number[] }[];
    expect(golden.length).toBeGreaterThan(0);
    const t = json();
    for (const g of golden) {
      expect(t.encode(g.text, false)).toEqual(g.ids);
      expect(t.encode(g.text, true)).toEqual(g.ids_with_special);
    }
  });
});
