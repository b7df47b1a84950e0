// Reads preference pairs from a JSONL export: one pair per line, the prompt as chat messages
// or a string, each side as a string, a {text} object or chat messages. A bad line is reported
// with its number and reason and the rest are still read. It does not tokenize.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ChatMessage } from '@delta/lm';
import type { DataSnapshot } from './dataset.js';
import type { TextPair } from './tokenize.js';

/** A line that was skipped: its 1-based number and why. */
export interface RejectedLine {
  line: number;
  reason: string;
}

/** What a read found. */
export interface JsonlPairs {
  /** Pairs in file order, the first of each id kept. */
  pairs: TextPair[];
  rejected: RejectedLine[];
  /** Lines that repeated an id already read. */
  duplicates: number;
  /** SHA-256 of the file's bytes, to record which data a run trained on. */
  sha256: string;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function messages(value: unknown, field: string): ChatMessage[] {
  if (!Array.isArray(value)) throw `${field} must be a string or a list of chat messages`;
  return value.map((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      throw `${field}[${i}] must be {"role": string, "content": string}`;
    }
    return { role: m.role, content: m.content };
  });
}

function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  return a.role === b.role && a.content === b.content;
}

/** The one assistant reply left after the prompt's messages; history never enters a reply. */
function reply(rest: ChatMessage[], field: string): string {
  if (rest.length !== 1 || rest[0]!.role !== 'assistant') {
    const roles = rest.map((m) => m.role).join(', ') || 'none';
    throw `${field}: after the prompt, expected one assistant message, found ${rest.length} ` +
      `(${roles})`;
  }
  return rest[0]!.content;
}

function side(value: unknown, field: string): string | ChatMessage[] {
  if (typeof value === 'string') return value;
  if (isObject(value)) {
    const text = value.text ?? value.content;
    if (typeof text === 'string') return text;
    throw `${field} must have a "text" string`;
  }
  if (value === undefined) throw `${field} is missing`;
  return messages(value, field);
}

/**
 * One line's pair. Sides given as whole conversations (the prompt copied into each, as some
 * exports do) are cut after the prompt; without a prompt field the messages both sides share
 * are the prompt. Throws a string naming the field at fault.
 */
export function parsePairObject(value: unknown): Omit<TextPair, 'pairId'> & { id?: string } {
  if (!isObject(value)) throw 'not a JSON object';
  const rawPrompt = value.prompt ?? value.messages;
  let prompt: ChatMessage[] | undefined =
    rawPrompt === undefined ? undefined
      : typeof rawPrompt === 'string' ? [{ role: 'user', content: rawPrompt }]
        : messages(rawPrompt, 'prompt');
  const chosen = side(value.chosen, 'chosen');
  const rejected = side(value.rejected, 'rejected');

  if (!prompt) {
    if (typeof chosen === 'string' || typeof rejected === 'string') {
      throw 'prompt is missing (needed when chosen and rejected are plain text)';
    }
    let shared = 0;
    while (shared < chosen.length - 1 && shared < rejected.length - 1 &&
      sameMessage(chosen[shared]!, rejected[shared]!)) shared++;
    prompt = chosen.slice(0, shared);
  }
  if (prompt.length === 0) throw 'prompt is empty';

  const cut = (s: string | ChatMessage[], field: string): string => {
    if (typeof s === 'string') return s;
    const copied = s.length > prompt!.length && prompt!.every((m, i) => sameMessage(m, s[i]!));
    return reply(copied ? s.slice(prompt!.length) : s, field);
  };
  const rawId = value.pair_id ?? value.pairId ?? value.id;
  const id = typeof rawId === 'string' && rawId !== '' ? rawId
    : typeof rawId === 'number' ? String(rawId) : undefined;
  return {
    prompt,
    chosen: cut(chosen, 'chosen'),
    rejected: cut(rejected, 'rejected'),
    ...(id === undefined ? {} : { id }),
  };
}

/** A content id for a pair without one, so reruns order and dedupe it the same way. */
export function contentId(pair: Omit<TextPair, 'pairId'>): string {
  const text = JSON.stringify([pair.prompt, pair.chosen, pair.rejected]);
  return `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
}

/** Reads a JSONL pairs file; stops with an error past `maxPairs` pairs. */
export async function readPairsJsonl(
  file: string,
  options: { maxPairs: number; signal?: AbortSignal },
): Promise<JsonlPairs> {
  const hash = createHash('sha256');
  const input = createReadStream(file);
  input.on('data', (chunk) => hash.update(chunk));
  const lines = createInterface({ input, crlfDelay: Infinity });

  const pairs: TextPair[] = [];
  const seen = new Set<string>();
  const rejected: RejectedLine[] = [];
  let duplicates = 0;
  let n = 0;
  try {
    for await (const text of lines) {
      n += 1;
      if (options.signal?.aborted) break;
      if (text.trim() === '') continue;
      let parsed: ReturnType<typeof parsePairObject>;
      try {
        parsed = parsePairObject(JSON.parse(text));
      } catch (err) {
        const reason = typeof err === 'string' ? err : 'not valid JSON';
        rejected.push({ line: n, reason });
        continue;
      }
      const { id, ...pair } = parsed;
      const pairId = id ?? contentId(pair);
      if (seen.has(pairId)) {
        duplicates += 1;
        continue;
      }
      seen.add(pairId);
      if (pairs.length >= options.maxPairs) {
        throw new PairLimitError(`${file} holds more than ${options.maxPairs} pairs (the ` +
          'service\'s DELTA_TRAINER_MAX_PAIRS)');
      }
      pairs.push({ pairId, ...pair });
    }
  } finally {
    lines.close();
    input.destroy();
  }
  return { pairs, rejected, duplicates, sha256: hash.digest('hex') };
}

/** A data set larger than the service accepts. */
export class PairLimitError extends Error {
  override readonly name = 'PairLimitError';
}

/** A data snapshot of a JSONL file: its pairs, its hash, and every skipped line. */
export async function fileSnapshot(
  file: string,
  name: string,
  options: { maxPairs: number; signal?: AbortSignal },
): Promise<DataSnapshot> {
  const read = await readPairsJsonl(file, options);
  return {
    source: {
      kind: 'file', name, sha256: read.sha256, duplicates: read.duplicates,
      rejected: read.rejected.map((r) => `line ${r.line}: ${r.reason}`),
    },
    pairs: read.pairs,
  };
}
