// Model folders for tests and the benchmark: a Llama with random weights (@delta/lm's
// writeRandomCheckpoint), a byte-level tokenizer written here, a Llama-3-style chat template,
// exported to ONNX. The weights are noise; nothing here is a trained model.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportOnnx, writeRandomCheckpoint } from '@delta/lm';

const SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>',
  '<|end_header_id|>', '<|eot_id|>', '<|im_start|>', '<|im_end|>', '<|pad|>'];

/** The printable characters byte-level BPE uses for the 256 byte values (GPT-2's table). */
function byteCharacters(): string[] {
  const printable: number[] = [];
  for (let c = 0x21; c <= 0x7e; c++) printable.push(c);
  for (let c = 0xa1; c <= 0xac; c++) printable.push(c);
  for (let c = 0xae; c <= 0xff; c++) printable.push(c);
  const chars = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return chars;
}

/** Vocabulary of the test tokenizer: 8 special tokens, then one token per byte. */
export const TINY_VOCAB = SPECIALS.length + 256;

/**
 * A byte-level tokenizer.json without merges: every byte of text is one token, so a prompt's
 * length in tokens is its UTF-8 length plus the template's tokens.
 */
export function byteTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => { vocab[s] = i; });
  byteCharacters().forEach((c, b) => { vocab[c] = SPECIALS.length + b; });
  const flags = { single_word: false, lstrip: false, rstrip: false, normalized: false,
    special: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, ...flags })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true,
      use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: SPECIALS[0], type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: SPECIALS[0], type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { [SPECIALS[0]!]: { id: SPECIALS[0], ids: [0], tokens: [SPECIALS[0]] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges: [] },
  };
}

/** A chat template in Llama 3's shape, written for these tests. */
export const CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

/** Options of a tiny model folder. */
export interface TinyModelOptions {
  /** max_position_embeddings; default 256. */
  context?: number;
  seed?: number;
  /** Layers and width grow the cost of a token (for tests that need a job to take a while). */
  layers?: number;
  hidden?: number;
  /** Skip the ONNX export (a folder that is not ready to serve). */
  skipExport?: boolean;
  chatTemplate?: boolean;
  /** Name no end token, so every response runs to its token budget (the benchmark). */
  noEndTokens?: boolean;
  /** Extra config.json fields (vocabulary, heads, ...). */
  config?: Record<string, unknown>;
}

/** Writes a random-weight Llama with the byte tokenizer into `dir`/`name` and exports it. */
export function tinyModel(root: string, name: string, options: TinyModelOptions = {}): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const hidden = options.hidden ?? 64;
  writeRandomCheckpoint(dir, {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: TINY_VOCAB,
    hidden_size: hidden, intermediate_size: hidden * 2, num_hidden_layers: options.layers ?? 2,
    num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: options.context ?? 256, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 0,
    ...(options.noEndTokens ? {} : { eos_token_id: 1 }), ...options.config,
  }, options.seed ?? 7);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    bos_token: SPECIALS[0], pad_token: SPECIALS[7],
    ...(options.noEndTokens ? {} : { eos_token: SPECIALS[1] }),
    ...(options.chatTemplate === false ? {} : { chat_template: CHAT_TEMPLATE }),
  }));
  writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({
    pad_token_id: 7, ...(options.noEndTokens ? {} : { eos_token_id: [1, 4] }) }));
  if (!options.skipExport) exportOnnx(dir);
  return dir;
}

