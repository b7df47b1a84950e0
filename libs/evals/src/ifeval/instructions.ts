// The 25 verifiable instruction kinds of IFEval, each a check built from the prompt's kwargs and
// applied to a response. Semantics follow the reference benchmark rule for rule, including its
// quirks (for example, a numbered list counts toward no bullet total; only `*` and `-` do).
import { EvalError, type ErrorLocation } from '../errors.js';
import { detectLanguage } from './language.js';
import { countSentences, countWords, isLower, isUpper, wordTokens } from './text.js';

/** Decides whether one response follows one instruction. */
export type InstructionCheck = (response: string) => boolean;

/** What a check is built from: the instruction's kwargs and the prompt it came with. */
export interface InstructionSpec {
  id: string;
  kwargs: Record<string, unknown>;
  prompt: string;
  /** Where the spec was read from, so a bad kwarg is reported at its line. */
  location?: ErrorLocation;
}

type Builder = (args: Args) => InstructionCheck;

/** Python `\w` (letters, digits, underscore) and `\b` built from it; JS's own are ASCII-only. */
const W = String.raw`[\p{L}\p{N}_]`;
const BOUNDARY = String.raw`(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;

const RELATIONS = ['less than', 'at least'] as const;
const CONSTRAINED_RESPONSES = ['My answer is yes.', 'My answer is no.', 'My answer is maybe.'];

const BUILDERS: Record<string, Builder> = {
  'keywords:existence': (a) => {
    const keywords = a.strings('keywords').map((k) => new RegExp(escape(k), 'iu'));
    return (r) => keywords.every((k) => k.test(r));
  },
  'keywords:frequency': (a) => {
    const keyword = new RegExp(escape(a.string('keyword').trim()), 'giu');
    const compare = a.relation('relation', a.int('frequency'));
    return (r) => compare(r.match(keyword)?.length ?? 0);
  },
  'keywords:forbidden_words': (a) => {
    const words = a.strings('forbidden_words');
    const patterns = words.map((w) => new RegExp(BOUNDARY + escape(w) + BOUNDARY, 'iu'));
    return (r) => !patterns.some((p) => p.test(r));
  },
  'keywords:letter_frequency': (a) => {
    // The reference swaps a non-letter (the data holds "!" and "#") for a random letter; the
    // character the prompt names is counted here instead.
    const letter = a.string('letter').trim().toLowerCase();
    if ([...letter].length !== 1) throw a.bad('letter', 'expected one character');
    const compare = a.relation('let_relation', a.int('let_frequency'));
    return (r) => compare(countChar(r.toLowerCase(), letter));
  },
  'language:response_language': (a) => {
    const language = a.string('language');
    return (r) => {
      const detected = detectLanguage(r);
      return detected === undefined || detected === language;
    };
  },
  'length_constraints:number_sentences': (a) => {
    const compare = a.relation('relation', a.int('num_sentences'));
    return (r) => compare(countSentences(r));
  },
  'length_constraints:number_paragraphs': (a) => {
    const want = a.int('num_paragraphs');
    return (r) => starParagraphCount(r) === want;
  },
  'length_constraints:number_words': (a) => {
    const compare = a.relation('relation', a.int('num_words'));
    return (r) => compare(countWords(r));
  },
  'length_constraints:nth_paragraph_first_word': (a) => {
    const want = a.int('num_paragraphs');
    const nth = a.int('nth_paragraph');
    const firstWord = a.string('first_word').toLowerCase();
    return (r) => nthParagraphFirstWord(r, want, nth, firstWord);
  },
  'detectable_content:number_placeholders': (a) => {
    const want = a.int('num_placeholders');
    return (r) => (r.match(/\[[^\n]*?\]/gu)?.length ?? 0) >= want;
  },
  'detectable_content:postscript': (a) => {
    const pattern = postscriptPattern(a.string('postscript_marker').trim());
    return (r) => pattern.test(r.toLowerCase());
  },
  'detectable_format:number_bullet_lists': (a) => {
    const want = a.int('num_bullets');
    return (r) => {
      const stars = r.match(/^\s*\*[^*][^\n]*$/gmu)?.length ?? 0;
      const dashes = r.match(/^\s*-[^\n]*$/gmu)?.length ?? 0;
      return stars + dashes === want;
    };
  },
  'detectable_format:constrained_response': () => (r) => {
    const trimmed = r.trim();
    return CONSTRAINED_RESPONSES.some((option) => trimmed.includes(option));
  },
  'detectable_format:number_highlighted_sections': (a) => {
    const want = a.int('num_highlights');
    return (r) => highlightCount(r) >= want;
  },
  'detectable_format:multiple_sections': (a) => {
    const splitter = new RegExp(String.raw`\s?${escape(a.string('section_spliter').trim())}\s?\d+\s?`, 'u');
    const want = a.int('num_sections');
    return (r) => r.split(splitter).length - 1 >= want;
  },
  'detectable_format:json_format': () => (r) => isJson(r),
  'detectable_format:title': () => (r) =>
    (r.match(/<<[^\n]+>>/gu) ?? []).some((t) => t.replace(/^<+/u, '').replace(/>+$/u, '').trim()),
  'combination:two_responses': () => (r) => twoResponses(r),
  'combination:repeat_prompt': (a) => {
    const prompt = a.string('prompt_to_repeat').trim().toLowerCase();
    return (r) => r.trim().toLowerCase().startsWith(prompt);
  },
  'startend:end_checker': (a) => {
    const phrase = a.string('end_phrase').trim().toLowerCase();
    return (r) => stripChars(r.trim(), '"').toLowerCase().endsWith(phrase);
  },
  'startend:quotation': () => (r) => {
    const t = r.trim();
    return t.length > 1 && t.startsWith('"') && t.endsWith('"');
  },
  'change_case:capital_word_frequency': (a) => {
    const compare = a.relation('capital_relation', a.int('capital_frequency'));
    return (r) => compare(wordTokens(r).filter(isUpper).length);
  },
  'change_case:english_capital': () => (r) => isUpper(r) && isEnglishOrUnknown(r),
  'change_case:english_lowercase': () => (r) => isLower(r) && isEnglishOrUnknown(r),
  'punctuation:no_comma': () => (r) => !r.includes(','),
};

/** The instruction ids this library can check: IFEval's 25 kinds. */
export const INSTRUCTION_IDS: readonly string[] = Object.keys(BUILDERS);

/**
 * Builds the check for one instruction, validating its kwargs up front so a bad data file
 * fails at load time naming the line and kwarg, not halfway through scoring.
 */
export function buildInstruction(spec: InstructionSpec): InstructionCheck {
  const builder = BUILDERS[spec.id];
  if (!builder) {
    throw new EvalError('INVALID_ARGUMENT', `unknown instruction "${spec.id}"`, {
      location: { ...spec.location, field: 'instruction_id_list' },
    });
  }
  return builder(new Args(spec));
}

/** Typed access to kwargs; like the reference, empty values count as absent. */
class Args {
  constructor(private readonly spec: InstructionSpec) {}

  bad(key: string, message: string): EvalError {
    return new EvalError('INVALID_ARGUMENT', `${this.spec.id}: ${message}`, {
      location: { ...this.spec.location, field: `kwargs.${key}` },
    });
  }

  private value(key: string): unknown {
    const v = this.spec.kwargs[key];
    if (v === undefined || v === null || v === '' || v === 0 || (Array.isArray(v) && !v.length)) {
      throw this.bad(key, 'missing');
    }
    return v;
  }

  string(key: string): string {
    const v = this.value(key);
    if (typeof v !== 'string') throw this.bad(key, 'expected a string');
    return v;
  }

  strings(key: string): string[] {
    const v = this.value(key);
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw this.bad(key, 'expected a list of strings');
    }
    return v as string[];
  }

  int(key: string): number {
    const v = this.value(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw this.bad(key, 'expected a non-negative integer');
    }
    return v;
  }

  relation(key: string, threshold: number): (count: number) => boolean {
    const v = this.string(key);
    if (v === RELATIONS[0]) return (count) => count < threshold;
    if (v === RELATIONS[1]) return (count) => count >= threshold;
    throw this.bad(key, `expected "less than" or "at least", got "${v}"`);
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/gu, '\\$&');
}

function countChar(text: string, ch: string): number {
  let n = 0;
  for (const c of text) if (c === ch) n++;
  return n;
}

function stripChars(text: string, ch: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === ch) start++;
  while (end > start && text[end - 1] === ch) end--;
  return text.slice(start, end);
}

function isEnglishOrUnknown(text: string): boolean {
  const detected = detectLanguage(text);
  return detected === undefined || detected === 'en';
}

/** Paragraphs separated by `***`; an empty one is allowed only at either end. */
function starParagraphCount(response: string): number {
  const paragraphs = response.split(/\s?\*\*\*\s?/u);
  let count = paragraphs.length;
  for (let i = 0; i < paragraphs.length; i++) {
    if (paragraphs[i]!.trim()) continue;
    if (i === 0 || i === paragraphs.length - 1) count--;
    else return -1;
  }
  return count;
}

function nthParagraphFirstWord(response: string, want: number, nth: number, first: string): boolean {
  const paragraphs = response.split('\n\n');
  const count = paragraphs.filter((p) => p.trim()).length;
  if (nth > count) return false;
  const paragraph = paragraphs[nth - 1]!.trim();
  if (!paragraph) return false;

  // The first whitespace-separated word, quotes dropped, cut at the first punctuation mark.
  const word = paragraph.split(/\s+/u)[0]!.replace(/^'+/u, '').replace(/^"+/u, '');
  let firstWord = '';
  for (const ch of word) {
    if ('.,?!\'"'.includes(ch)) break;
    firstWord += ch.toLowerCase();
  }
  return count === want && firstWord === first;
}

function postscriptPattern(marker: string): RegExp {
  if (marker === 'P.P.S') return /\s*p\.\s?p\.\s?s[^\n]*$/mu;
  if (marker === 'P.S.') return /\s*p\.\s?s\.[^\n]*$/mu;
  return new RegExp(String.raw`\s*${escape(marker.toLowerCase())}[^\n]*$`, 'mu');
}

/** `*single*` and `**double**` highlights with some text inside; a double counts twice. */
function highlightCount(response: string): number {
  let n = 0;
  for (const h of response.match(/\*[^\n*]*\*/gu) ?? []) if (stripChars(h, '*').trim()) n++;
  for (const h of response.match(/\*\*[^\n*]*\*\*/gu) ?? []) if (h.slice(2, -2).trim()) n++;
  return n;
}

function isJson(response: string): boolean {
  let text = response.trim();
  for (const fence of ['```json', '```Json', '```JSON', '```']) {
    if (text.startsWith(fence)) text = text.slice(fence.length);
  }
  if (text.endsWith('```')) text = text.slice(0, -3);
  try {
    JSON.parse(text.trim());
    return true;
  } catch {
    return false;
  }
}

function twoResponses(response: string): boolean {
  const parts = response.split('******');
  const valid: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i]!.trim()) valid.push(parts[i]!);
    else if (i !== 0 && i !== parts.length - 1) return false;
  }
  return valid.length === 2 && valid[0]!.trim() !== valid[1]!.trim();
}
