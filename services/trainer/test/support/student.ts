// Builds tiny real student folders for tests: random Llama weights from the engine, saved as a
// Hugging Face folder with a real tokenizer.json and chat template beside them; and arithmetic
// preference pairs whose chosen side is right and whose rejected side is wrong.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { llamaConfig, Model } from '@delta/engine';
import { byteLevelBpe, vocabSize } from './tokenizers.js';

/** A chat template in Llama 3's shape, written for these tests: it writes BOS itself. */
export const LLAMA3_STYLE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

/** Llama 3 style special tokens, ids 0..4. */
export const LLAMA3_SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>',
  '<|end_header_id|>', '<|eot_id|>'];

/** Words of the arithmetic pairs, merged into single tokens. */
export const WORDS = [' What', ' is', ' plus', ' The', ' answer', ' I', ' think', ' not', ' sure',
  ' add', ' sum', 'What', 'The', 'user', 'assistant', 'system'];

/** The default test tokenizer: byte-level BPE, Llama 3 specials. */
export function defaultTokenizer(): Record<string, unknown> {
  return byteLevelBpe({ specials: LLAMA3_SPECIALS, words: WORDS, bos: LLAMA3_SPECIALS[0] });
}

/** What a student folder is made of; defaults give a Llama 3 style chat model. */
export interface StudentOptions {
  seed?: number;
  tokenizer?: Record<string, unknown>;
  tokenizerConfig?: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  context?: number;
}

/** Writes a random-weight student with tokenizer files into `dir` (created); returns dir. */
export async function writeStudent(dir: string, options: StudentOptions = {}): Promise<string> {
  const tokenizer = options.tokenizer ?? defaultTokenizer();
  const hidden = options.hiddenSize ?? 32;
  const config = llamaConfig({
    vocabSize: vocabSize(tokenizer), hiddenSize: hidden, intermediateSize: hidden * 2,
    numLayers: options.layers ?? 2, numHeads: options.heads ?? 4, numKvHeads: 2,
    maxPositionEmbeddings: options.context ?? 256, bosTokenId: 0, eosTokenId: [1, 4],
  });
  mkdirSync(dir, { recursive: true });
  const model = Model.random(config, { seed: options.seed ?? 1, threads: 1 });
  await model.save(dir);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(options.tokenizerConfig ?? {
    bos_token: LLAMA3_SPECIALS[0], eos_token: LLAMA3_SPECIALS[4], chat_template: LLAMA3_STYLE,
  }));
  writeFileSync(path.join(dir, 'generation_config.json'),
    JSON.stringify(options.generationConfig ?? { eos_token_id: [1, 4], max_new_tokens: 32 }));
  return dir;
}

/** A pair as the JSONL export and the topic carry it. */
export interface ArithmeticPair {
  id: string;
  prompt: { role: string; content: string }[];
  chosen: string;
  rejected: string;
}

/** `n` pairs "What is a plus b?": chosen gives the sum, rejected a wrong one. Deterministic. */
export function arithmeticPairs(n: number, offset = 0): ArithmeticPair[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const a = (i * 7) % 10;
    const b = (i * 3 + 1) % 10;
    return {
      id: `p${String(i).padStart(4, '0')}`,
      prompt: [{ role: 'user', content: `What is ${a} plus ${b}?` }],
      chosen: `The answer is ${a + b}.`,
      rejected: `I think ${a + b + 1 + (i % 3)}, not sure.`,
    };
  });
}

/** Writes pairs as a JSONL export (one {"id", "prompt", "chosen", "rejected"} per line). */
export function writePairsFile(file: string, pairs: readonly ArithmeticPair[]): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return file;
}
