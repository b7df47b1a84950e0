// The data module against the tokenization faults of preference data (cases 1-7 of the known
// failure kinds), with real tokenizers: byte-level BPE under a Llama 3 style template that writes
// BOS, a ChatML template without BOS, a Metaspace tokenizer whose template and post-processor
// both know BOS (Llama 2 style), and a template whose generation prompt ends in a space.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Model, referenceLogProbs, Trainer } from '@delta/engine';
import { TextTokenizer } from '@delta/lm';
import { describe, expect, it } from 'vitest';
import { PairTokenizer, trainerConfig, resolveSettings, type TextPair } from '../src/index.js';
import { scratch } from './support/scratch.js';
import {
  defaultTokenizer, LLAMA3_SPECIALS, LLAMA3_STYLE, writeStudent,
} from './support/student.js';
import { byteLevelBpe, metaspaceBpe } from './support/tokenizers.js';

const CHATML = '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n' +
  '{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';
const LLAMA2_STYLE = "{% for m in messages %}{% if m.role == 'user' %}{{ bos_token }}[INST] " +
  "{{ m.content }} [/INST]{% else %} {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}";
// The generation prompt ends in a space that a byte-level tokenizer joins to the next word.
const SPACE_QUIRK = "{% for m in messages %}{% if m.role == 'user' %}User{% else %}Assistant" +
  "{% endif %}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}";

/** Writes the tokenizer files of a student folder (no weights: tokenizing needs none). */
function folder(name: string, tokenizer: Record<string, unknown>,
  config: Record<string, unknown>): string {
  const dir = path.join(scratch(name), 'student');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', max_position_embeddings: 256,
    vocab_size: 512, eos_token_id: config.eos_id ?? null,
  }));
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const { eos_id: _, ...tokConfig } = config;
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokConfig));
  return dir;
}

const llama3 = () => folder('llama3', defaultTokenizer(), {
  bos_token: LLAMA3_SPECIALS[0], eos_token: LLAMA3_SPECIALS[4], chat_template: LLAMA3_STYLE,
});
const chatml = () => folder('chatml', byteLevelBpe({
  specials: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], words: [' What', ' plus', 'The'],
}), { eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: CHATML });
const llama2 = () => folder('llama2', metaspaceBpe({
  specials: ['<unk>', '<s>', '</s>'], unk: '<unk>', bos: '<s>',
  words: ['[INST]', '[/INST]', ' What', ' plus', ' The', ' answer'],
}), { bos_token: '<s>', eos_token: '</s>', chat_template: LLAMA2_STYLE });
const spaceQuirk = () => folder('quirk', byteLevelBpe({
  specials: ['<|begin_of_text|>', '<|end_of_text|>'], bos: '<|begin_of_text|>',
  words: [' Hello', ' there', 'User', 'Assistant'],
}), { bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>', chat_template: SPACE_QUIRK });

const pair = (over: Partial<TextPair> = {}): TextPair => ({
  pairId: 'a',
  prompt: [{ role: 'user', content: 'What is 2 plus 3?' }],
  chosen: 'The answer is 5.',
  rejected: 'I think 7.',
  ...over,
});

function tokenized(dir: string, p: TextPair, maxLength = 256) {
  const result = PairTokenizer.fromFolder(dir).tokenize(p, maxLength);
  if (!('pair' in result)) throw new Error(`dropped: ${result.dropped}`);
  return result.pair;
}

function tokenizerOf(dir: string): TextTokenizer {
  const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  return TextTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'), null, dir);
}

describe('case 1: the prompt tokens are a prefix of the whole sequence', () => {
  it('keeps the ids the generator prompts with, for every template', () => {
    for (const dir of [llama3(), chatml(), llama2(), spaceQuirk()]) {
      const tok = tokenizerOf(dir);
      const p = tokenized(dir, pair());
      const promptText = tok.renderChat(pair().prompt, true);
      expect(p.prompt, dir).toEqual(tok.encode(promptText, false));
    }
  });

  it('moves no token across the boundary when the generation prompt ends in a space', () => {
    const dir = spaceQuirk();
    const tok = tokenizerOf(dir);
    const prompt = [{ role: 'user', content: 'Hi' }];
    const promptIds = tok.encode(tok.renderChat(prompt, true), false);
    const whole = tok.encode(tok.renderChat([...prompt,
      { role: 'assistant', content: 'Hello there' }], false), false);
    // The trap is real: tokenized whole, " Hello" is one token, so the prompt is no prefix.
    expect(whole.slice(0, promptIds.length)).not.toEqual(promptIds);

    const p = tokenized(dir, pair({ prompt, chosen: 'Hello there', rejected: 'Hello' }));
    expect(p.prompt).toEqual(promptIds);
    expect(tok.decode(p.prompt, false)).toBe('User: Hi\nAssistant: ');
    expect(tok.decode(p.chosen, false)).toBe('Hello there\n<|end_of_text|>');
    expect(tok.decode([...p.prompt, ...p.chosen], false))
      .toBe('User: Hi\nAssistant: Hello there\n<|end_of_text|>');
  });

  it('ends every response with one end token, cutting what the template writes after it', () => {
    const ml = tokenized(chatml(), pair());
    const tok = tokenizerOf(chatml());
    expect(tok.decode(ml.chosen, false)).toBe('The answer is 5.<|im_end|>');
    expect(tok.decode(ml.rejected, false)).toBe('I think 7.<|im_end|>');
    const l3 = tokenized(llama3(), pair());
    expect(l3.chosen.at(-1)).toBe(4); // <|eot_id|>
    expect(l3.chosen.filter((t) => t === 4)).toHaveLength(1);
  });
});

describe('case 2: no second BOS', () => {
  it('has one BOS at the start when template and post-processor both know BOS', () => {
    const dir = llama2();
    const tok = tokenizerOf(dir);
    const bos = tok.tokenId('<s>')!;
    // The trap is real: encoding the rendered text with special tokens doubles BOS.
    const naive = tok.encode(tok.renderChat(pair().prompt, true), true);
    expect(naive.slice(0, 2)).toEqual([bos, bos]);

    const p = tokenized(dir, pair());
    const sequence = [...p.prompt, ...p.chosen];
    expect(sequence.filter((t) => t === bos)).toHaveLength(1);
    expect(sequence[0]).toBe(bos);
    expect(tok.decode(sequence, false))
      .toBe('<s>[INST] What is 2 plus 3? [/INST] The answer is 5.</s>');
  });

  it('adds no BOS to a template that writes none (ChatML)', () => {
    const dir = chatml();
    const p = tokenized(dir, pair());
    expect(tokenizerOf(dir).decode(p.prompt, false))
      .toBe('<|im_start|>user\nWhat is 2 plus 3?<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('case 3: the assistant header belongs to the prompt', () => {
  it('puts the header at the end of the prompt and never in a response', () => {
    const dir = llama3();
    const tok = tokenizerOf(dir);
    const p = tokenized(dir, pair());
    expect(tok.decode(p.prompt, false)).toBe('<|begin_of_text|><|start_header_id|>user' +
      '<|end_header_id|>\n\nWhat is 2 plus 3?<|eot_id|><|start_header_id|>assistant' +
      '<|end_header_id|>\n\n');
    expect(tok.decode(p.chosen, false)).toBe('The answer is 5.<|eot_id|>');
    expect(p.chosen).not.toContain(tok.tokenId('<|start_header_id|>'));
  });
});

describe('case 4: a multi-turn conversation stays in the prompt', () => {
  it('renders the history once, in the prompt, and only the reply in each response', () => {
    const dir = llama3();
    const tok = tokenizerOf(dir);
    const history = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 1 plus 1?' },
      { role: 'assistant', content: 'The answer is 2.' },
      { role: 'user', content: 'What is 2 plus 3?' },
    ];
    const p = tokenized(dir, pair({ prompt: history }));
    const prompt = tok.decode(p.prompt, false);
    expect(prompt.match(/The answer is 2\./g)).toHaveLength(1);
    expect(prompt.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    expect(tok.decode(p.chosen, false)).toBe('The answer is 5.<|eot_id|>');
    expect(tok.decode(p.rejected, false)).toBe('I think 7.<|eot_id|>');
  });
});

describe('case 5: truncation never leaves an empty response', () => {
  it('drops a pair whose prompt fills the limit and keeps one token when one fits', () => {
    const dir = llama3();
    const tokenizer = PairTokenizer.fromFolder(dir);
    const full = tokenized(dir, pair());
    const n = full.prompt.length;
    expect(tokenizer.tokenize(pair(), n)).toEqual({ dropped: 'prompt_too_long' });
    const one = tokenizer.tokenize(pair(), n + 1);
    expect('pair' in one && [one.pair.chosen.length, one.pair.rejected.length]).toEqual([1, 1]);
    expect(tokenizer.tokenize(pair({ chosen: '  ' }), 256)).toEqual({ dropped: 'empty_response' });
  });

  it('gives a finite length-normalised loss on one-token responses', async () => {
    const dir = await writeStudent(path.join(scratch('trunc'), 'student'));
    const tokenizer = PairTokenizer.fromFolder(dir);
    const n = tokenized(dir, pair()).prompt.length;
    const one = tokenizer.tokenize(pair(), n + 1);
    if (!('pair' in one)) throw new Error('dropped');
    const model = await Model.load(dir, { threads: 1 });
    const pairs = [one.pair];
    const reference = (await referenceLogProbs(model, pairs, { tokenization: 't' })).values;
    const trainer = new Trainer(model, trainerConfig(
      { ...resolveSettings('tiny', undefined), maxLength: n + 1, microBatchSize: 1 }, 10));
    const metrics = await trainer.step({ pairs, reference });
    expect(metrics.loss).toBeCloseTo(Math.LN2, 12);
    expect(Number.isFinite(metrics.gradNorm)).toBe(true);
  });
});

describe('case 6: each side is truncated by its own length', () => {
  it('cuts a long rejected side to the limit, not to the chosen side\'s length', () => {
    const dir = llama3();
    const long = 'The answer is 5, and 5 is the sum of 2 and 3, as the question asks.';
    const whole = tokenized(dir, pair({ chosen: 'No.', rejected: long }));
    const limit = whole.prompt.length + 10;
    const cut = tokenized(dir, pair({ chosen: 'No.', rejected: long }), limit);
    expect(whole.chosen.length).toBeLessThan(10);
    expect(whole.rejected.length).toBeGreaterThan(10);
    expect(cut.chosen).toEqual(whole.chosen); // short side untouched, still ends with <|eot_id|>
    expect(cut.rejected).toEqual(whole.rejected.slice(0, 10));

    const swapped = tokenized(dir, pair({ chosen: long, rejected: 'No.' }), limit);
    expect(swapped.chosen).toHaveLength(10);
    expect(swapped.rejected).toEqual(whole.chosen);
  });
});

describe('case 7: padding side and pad id change nothing', () => {
  it('gives the same ids whatever padding the tokenizer files configure', () => {
    const base = tokenized(llama3(), pair());
    const samePadded = folder('padded-words', { ...defaultTokenizer(), padding: {
      strategy: { Fixed: 64 }, direction: 'Left', pad_to_multiple_of: null, pad_id: 1,
      pad_type_id: 0, pad_token: '<|end_of_text|>' } },
    { bos_token: LLAMA3_SPECIALS[0], eos_token: LLAMA3_SPECIALS[4], pad_token: '<|eot_id|>',
      padding_side: 'left', chat_template: LLAMA3_STYLE });
    expect(tokenized(samePadded, pair())).toEqual(base);
  });

  it('gives the same step on the service\'s batches with either engine padding', async () => {
    const dir = await writeStudent(path.join(scratch('pad'), 'student'));
    const tokenizer = PairTokenizer.fromFolder(dir);
    const pairs = ['The answer is 5.', 'Five.', 'It is 5, the sum.'].map((chosen, i) => {
      const r = tokenizer.tokenize(pair({ pairId: String(i), chosen }), 256);
      if (!('pair' in r)) throw new Error('dropped');
      return r.pair;
    });
    const settings = { ...resolveSettings('tiny', undefined), microBatchSize: 3 };
    const results = [];
    const paddings = [{ padSide: 'right', padId: 0 }, { padSide: 'left', padId: 7 }] as const;
    for (const padding of paddings) {
      const model = await Model.load(dir, { threads: 1 });
      const reference = (await referenceLogProbs(model, pairs, { tokenization: 't' })).values;
      const trainer = new Trainer(model, { ...trainerConfig(settings, 4), padding });
      await trainer.step({ pairs, reference });
      results.push({ metrics: await trainer.step({ pairs, reference }),
        weight: model.readParameter('model.norm.weight') });
    }
    expect(results[1]!.metrics.loss).toBe(results[0]!.metrics.loss);
    expect(results[1]!.metrics.rewardsMargin).toBe(results[0]!.metrics.rewardsMargin);
    expect(Buffer.from(results[1]!.weight.buffer).equals(Buffer.from(results[0]!.weight.buffer)))
      .toBe(true);
  });
});
