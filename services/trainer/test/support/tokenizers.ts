// Small real tokenizers for tests, written as tokenizer.json objects that
// @huggingface/tokenizers loads: a byte-level BPE (GPT-2 / Llama 3 style, a space joins the word
// after it) and a Metaspace BPE (SentencePiece / Llama 2 style). Merges come from a word list, so
// common words are single tokens and the boundary quirks of real tokenizers show up.

/** GPT-2's byte-to-character table: every byte gets a printable stand-in. */
function byteChars(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

/** Merges that build each word left to right ("Ġ c", "Ġc a", "Ġca t"), without repeats. */
function mergesFor(words: readonly string[]): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const word of words) {
    const chars = [...word];
    let left = chars[0]!;
    for (const next of chars.slice(1)) {
      const key = `${left} ${next}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push([left, next]);
      }
      left += next;
    }
  }
  return out;
}

function special(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
    special: true };
}

/** Options of a test tokenizer. */
export interface TokenizerOptions {
  /** Special tokens, ids 0.. in order (for example BOS, EOS, role markers). */
  specials: readonly string[];
  /** Words to make single tokens (byte-level: with a leading space they start with "Ġ"). */
  words?: readonly string[];
  /** Special token the post-processor puts first when special tokens are added. */
  bos?: string;
  /** A padding section, as `tokenizer.save` writes one when padding was enabled. */
  padding?: Record<string, unknown> | null;
}

/** A byte-level BPE tokenizer.json: every byte is a token, words are merged. */
export function byteLevelBpe(options: TokenizerOptions): Record<string, unknown> {
  const chars = byteChars();
  const vocab: Record<string, number> = {};
  options.specials.forEach((s, i) => { vocab[s] = i; });
  for (const c of chars) vocab[c] ??= Object.keys(vocab).length;
  const enc = (w: string) => [...Buffer.from(w, 'utf8')].map((b) => chars[b]).join('');
  const merges = mergesFor((options.words ?? []).map(enc));
  for (const [a, b] of merges) vocab[a + b] ??= Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: options.padding ?? null,
    added_tokens: options.specials.map((s, i) => special(i, s)),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true,
      use_regex: true },
    post_processor: postProcessor(options, vocab),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** A Metaspace BPE tokenizer.json: spaces become "▁", a "▁" is prepended to the text. */
export function metaspaceBpe(options: TokenizerOptions & { unk: string }): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  options.specials.forEach((s, i) => { vocab[s] = i; });
  vocab['▁'] ??= Object.keys(vocab).length;
  for (let c = 32; c < 127; c++) {
    if (c !== 32) vocab[String.fromCharCode(c)] ??= Object.keys(vocab).length;
  }
  vocab['\n'] ??= Object.keys(vocab).length;
  const merges = mergesFor((options.words ?? []).map((w) => w.replaceAll(' ', '▁')));
  for (const [a, b] of merges) vocab[a + b] ??= Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: options.padding ?? null,
    added_tokens: options.specials.map((s, i) => special(i, s)),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: postProcessor(options, vocab),
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    model: {
      type: 'BPE', dropout: null, unk_token: options.unk, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: false, ignore_merges: false,
      vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

function postProcessor(options: TokenizerOptions, vocab: Record<string, number>) {
  if (!options.bos) return null;
  const bos = options.bos;
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [vocab[bos]], tokens: [bos] } },
  };
}

/** Number of entries in a tokenizer.json vocabulary (the model's vocab_size must cover it). */
export function vocabSize(tokenizerJson: Record<string, unknown>): number {
  const model = tokenizerJson.model as { vocab: Record<string, number> };
  return Math.max(...Object.values(model.vocab)) + 1;
}
