// Turns a text preference pair into token ids with the student's own tokenizer and chat
// template, as the generator will prompt the tuned model: the prompt is the conversation
// rendered with the generation prompt (assistant header included), each response is what the
// template writes after it, up to and including the end token. It reads no data and trains
// nothing; rows it cannot use come back with a reason instead of ids.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadModelFiles, type ChatMessage, type TextTokenizer } from '@delta/lm';

/** A preference pair as text: the conversation so far and two candidate replies to it. */
export interface TextPair {
  /** Stable id: it orders and dedupes the data set. */
  pairId: string;
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
}

/** A pair as the engine takes it, with the id it came from. */
export interface TokenizedPair {
  pairId: string;
  /** The rendered conversation and assistant header (BOS first when the template writes it). */
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

/** Why a pair was not used; the job reports a count per reason. */
export type DropReason =
  | 'prompt_too_long' // the prompt alone leaves no room for a response token
  | 'empty_response' // a side's text is empty or whitespace: nothing to score
  | 'template_mismatch' // rendering prompt + response does not start with the rendered prompt
  | 'prompt_not_prefix'; // the prompt's tokens could not be kept as a prefix of the sequence

/** The outcome for one pair. */
export type TokenizeResult = { pair: TokenizedPair } | { dropped: DropReason };

function startsWith(ids: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= ids.length && prefix.every((t, i) => ids[i] === t);
}

/** Problems with the student's tokenizer files, reported before any pair is read. */
export class TokenizerSetupError extends Error {
  override readonly name = 'TokenizerSetupError';
}

/**
 * The student's tokenizer and template applied to pairs. Encoding never adds special tokens:
 * the template writes BOS when the model wants one (as transformers' apply_chat_template and
 * the generator do), so the sequence never holds a second BOS.
 */
export class PairTokenizer {
  private constructor(
    private readonly tokenizer: TextTokenizer,
    /** Every end token the student's files name; a response stops after the first one. */
    readonly endTokenIds: ReadonlySet<number>,
    /** Appended when the template writes no end token after a reply. */
    readonly endToken: number,
    /** Hash of the files that decide the ids; it enters the reference cache key. */
    readonly identity: string,
  ) {}

  /** Reads the tokenizer, chat template and end tokens of a Hugging Face model folder. */
  static fromFolder(dir: string): PairTokenizer {
    const files = loadModelFiles(dir);
    const tokenizer = files.tokenizer;
    if (!tokenizer) {
      throw new TokenizerSetupError(`${dir} has no tokenizer.json; the trainer renders pairs ` +
        'with the student\'s tokenizer and chat template');
    }
    if (!tokenizer.hasChatTemplate) {
      throw new TokenizerSetupError(`${dir} has no chat template (tokenizer_config.json ` +
        'chat_template or chat_template.jinja); pairs are rendered with it');
    }
    const eos = tokenizer.eosToken === null ? undefined : tokenizer.tokenId(tokenizer.eosToken);
    const endToken = eos ?? [...files.stopTokenIds].sort((a, b) => a - b)[0];
    if (endToken === undefined) {
      throw new TokenizerSetupError(`${dir} names no end token (eos_token in ` +
        'tokenizer_config.json or eos_token_id in config.json / generation_config.json)');
    }
    const hash = createHash('sha256').update('delta-trainer-tokenize/1');
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) {
      const file = path.join(dir, name);
      hash.update(`|${name}:`);
      if (existsSync(file)) hash.update(readFileSync(file));
    }
    hash.update(`|end:${[...files.stopTokenIds].sort((a, b) => a - b).join(',')}:${endToken}`);
    const ends = new Set([...files.stopTokenIds, endToken]);
    return new PairTokenizer(tokenizer, ends, endToken, hash.digest('hex'));
  }

  /** Text of ids with special tokens written out, to show what a sequence holds. */
  decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids, false);
  }

  /**
   * Token ids of one pair, each response cut to `maxLength` minus the prompt's length on its
   * own (the other side's length never limits it), or the reason the pair cannot be used.
   */
  tokenize(pair: TextPair, maxLength: number): TokenizeResult {
    if (pair.chosen.trim() === '' || pair.rejected.trim() === '') {
      return { dropped: 'empty_response' };
    }
    const promptText = this.tokenizer.renderChat(pair.prompt, true);
    const prompt = this.tokenizer.encode(promptText, false);

    const sides: number[][] = [];
    for (const text of [pair.chosen, pair.rejected]) {
      const side = this.response(pair.prompt, promptText, prompt, text);
      if (typeof side === 'string') return { dropped: side };
      sides.push(side);
    }

    // Truncation keeps the prompt whole and cuts each response by its own budget.
    const budget = maxLength - prompt.length;
    if (budget < 1) return { dropped: 'prompt_too_long' };
    const [chosen, rejected] = sides.map((s) => s.slice(0, budget)) as [number[], number[]];
    return { pair: { pairId: pair.pairId, prompt, chosen, rejected } };
  }

  /** The ids the template writes for `text` after the prompt, ending with one end token. */
  private response(
    history: readonly ChatMessage[],
    promptText: string,
    prompt: readonly number[],
    text: string,
  ): number[] | DropReason {
    const fullText = this.tokenizer.renderChat([...history, { role: 'assistant', content: text }],
      false);
    if (!fullText.startsWith(promptText)) return 'template_mismatch';
    const full = this.tokenizer.encode(fullText, false);

    let ids: number[];
    if (startsWith(full, prompt)) {
      ids = full.slice(prompt.length);
    } else {
      // A merge across the boundary (a template ending in a space, say): keep the prompt's ids,
      // which are what the model sees when it is prompted, and encode the rest on its own. Use
      // it only if the two pieces spell the same text as the whole.
      ids = this.tokenizer.encode(fullText.slice(promptText.length), false);
      const joined = this.tokenizer.decode([...prompt, ...ids], false);
      if (joined !== this.tokenizer.decode(full, false)) return 'prompt_not_prefix';
    }

    // The reply ends at its first end token; what the template writes after it (a newline
    // before the next turn) is not part of the reply. A template that writes none gets one.
    const end = ids.findIndex((t) => this.endTokenIds.has(t));
    return end >= 0 ? ids.slice(0, end + 1) : [...ids, this.endToken];
  }
}
