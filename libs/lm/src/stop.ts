// Turns one response's token ids into text as they arrive and watches for stop strings. Only the
// response is searched, never the prompt, so a stop string the prompt contains cannot fire.
// Policy: the returned text ends before the stop string (it is excluded, and so is anything
// after it); the token ids keep every token generated, up to the one that completed it.
import type { TextTokenizer } from './tokenizer.js';

/** Tokens kept before the read point, so decoders that depend on context decode right. */
const PREFIX_TOKENS = 6;

/**
 * Incremental detokenizer with stop-string matching. Text that could still turn into a stop
 * string is held back from `takeStreamable`, so a streamed response never shows part of one.
 */
export class ResponseText {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private text = '';
  private streamed = 0;
  private stoppedAt: number | null = null;
  readonly maxStopLength: number;

  constructor(
    private readonly tokenizer: TextTokenizer | null,
    private readonly stopStrings: readonly string[],
  ) {
    this.maxStopLength = Math.max(0, ...stopStrings.map((s) => s.length));
  }

  /** Adds a token; returns the stop string it completed, if any. */
  push(id: number): string | null {
    this.ids.push(id);
    if (!this.tokenizer || this.stoppedAt !== null) return null;
    const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    // An incomplete UTF-8 sequence decodes to U+FFFD: wait for the token that completes it.
    if (after.length <= before.length || after.endsWith('\uFFFD')) return null;
    const searchFrom = Math.max(0, this.text.length - this.maxStopLength + 1);
    this.text += after.slice(before.length);
    this.prefixOffset = Math.max(0, this.ids.length - PREFIX_TOKENS);
    this.prefixOffset = Math.min(this.prefixOffset, this.readOffset);
    this.readOffset = this.ids.length;
    return this.findStop(searchFrom);
  }

  private findStop(from: number): string | null {
    let best: { at: number; stop: string } | null = null;
    for (const stop of this.stopStrings) {
      if (!stop) continue;
      const at = this.text.indexOf(stop, from);
      if (at >= 0 && (!best || at < best.at)) best = { at, stop };
    }
    if (!best) return null;
    this.stoppedAt = best.at;
    return best.stop;
  }

  /** The response text so far, ending before a matched stop string. */
  get current(): string {
    return this.stoppedAt === null ? this.text : this.text.slice(0, this.stoppedAt);
  }

  /** Final text once the response ended: flushes bytes still held for an incomplete character. */
  finish(): string {
    if (this.tokenizer && this.stoppedAt === null && this.readOffset < this.ids.length) {
      const full = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
      const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
      const from = Math.max(0, this.text.length - this.maxStopLength + 1);
      this.text += full.slice(before.length);
      this.readOffset = this.ids.length;
      this.findStop(from);
    }
    return this.current;
  }

  /**
   * New text safe to show: everything not yet taken, except a tail that is the start of some
   * stop string (it may yet complete one).
   */
  takeStreamable(final = false): string {
    const text = this.current;
    let end = text.length;
    if (!final && this.stoppedAt === null) {
      for (const stop of this.stopStrings) {
        for (let k = Math.min(stop.length - 1, text.length); k > 0; k--) {
          if (text.endsWith(stop.slice(0, k))) {
            end = Math.min(end, text.length - k);
            break;
          }
        }
      }
    }
    if (end <= this.streamed) return '';
    const delta = text.slice(this.streamed, end);
    this.streamed = end;
    return delta;
  }
}
