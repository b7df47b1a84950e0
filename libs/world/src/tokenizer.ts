// The world's character-level tokenizer: 51 ids (three special tokens, then one id per character
// the tasks write), its tokenizer.json / tokenizer_config.json files, and a direct encoder for
// training. It covers only the tasks' alphabet; text outside it is refused, never mapped to unk.
import { WorldError } from './errors.js';

/** Special tokens, at ids 0, 1, 2. */
export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';

/** Their ids. */
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;

/** Every character the tasks write, in id order from 3: digits, punctuation, space, newline, a-z. */
export const CHARACTERS = '0123456789+-*=;#:.,? \nabcdefghijklmnopqrstuvwxyz';

/** The vocabulary size: specials plus characters (51). */
export const VOCAB_SIZE = 3 + CHARACTERS.length;

const CHAR_ID = new Map([...CHARACTERS].map((c, i) => [c, 3 + i]));

/**
 * The chat template every model of the world carries. A conversation is BOS, then each
 * message's text as it is, an assistant reply followed by EOS: so the sequence a model sees is
 * `<bos> prompt response <eos>`, with no role header, whichever service renders it.
 */
export const CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}{{ m.content }}' +
  "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}";

/**
 * Token ids of `text`, one per character. The trainer of the ladder uses it instead of the
 * JSON tokenizer for speed; a test checks that both give the same ids.
 */
export function encode(text: string, where = 'text'): number[] {
  const ids: number[] = [];
  for (const ch of text) {
    const id = CHAR_ID.get(ch);
    if (id === undefined) {
      throw new WorldError('INVALID_TEXT',
        `${where}: character ${JSON.stringify(ch)} is outside the world's alphabet`);
    }
    ids.push(id);
  }
  return ids;
}

/** Text of `ids`; special tokens are skipped, and decoding stops at the first EOS. */
export function decode(ids: readonly number[]): string {
  let out = '';
  for (const id of ids) {
    if (id === EOS_ID) break;
    if (id >= 3 && id < VOCAB_SIZE) out += CHARACTERS[id - 3];
  }
  return out;
}

/**
 * tokenizer.json: a BPE model with no merges over the 48 characters (so every character is its
 * own token), the specials as added tokens, BOS prepended by the post-processor for raw text,
 * and a Fuse decoder so decoded characters are joined without spaces.
 */
export function tokenizerJson(): Record<string, unknown> {
  const specials = [PAD, BOS, EOS];
  const vocab: Record<string, number> = {};
  specials.forEach((token, id) => { vocab[token] = id; });
  for (const [ch, id] of CHAR_ID) vocab[ch] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { [BOS]: { id: BOS, ids: [BOS_ID], tokens: [BOS] } },
    },
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges: [],
    },
  };
}

/** tokenizer_config.json: the specials by name and the chat template. */
export function tokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: BOS,
    eos_token: EOS,
    pad_token: PAD,
    add_bos_token: true,
    model_max_length: 256,
    chat_template: CHAT_TEMPLATE,
  };
}
