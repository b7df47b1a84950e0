// Text measures the IFEval checks rely on: word counts, sentence splitting, word tokens and
// case tests, written to behave like the reference benchmark's NLTK-based helpers.
// Sentence splitting follows the Punkt algorithm's rules without its trained English tables,
// so a few abbreviation and name contexts split differently from NLTK's English model.

/** A word character as Python's Unicode `\w` sees it: letters, digits and underscore. */
const WORD = String.raw`[\p{L}\p{N}_]`;
const WORD_RUN = new RegExp(`${WORD}+`, 'gu');

/** Counts `\w+` runs, the word count IFEval's length constraints use. */
export function countWords(text: string): number {
  return text.match(WORD_RUN)?.length ?? 0;
}

/**
 * Python's `str.isupper()`: at least one cased character and none lowercase. Used by the
 * all-capitals instruction and the capital-word counter, which must agree with the reference.
 */
export function isUpper(text: string): boolean {
  let cased = false;
  for (const ch of text) {
    if (/[\p{Ll}\p{Lt}]/u.test(ch)) return false;
    if (/\p{Lu}/u.test(ch)) cased = true;
  }
  return cased;
}

/** Python's `str.islower()`: at least one cased character and none uppercase or titlecase. */
export function isLower(text: string): boolean {
  let cased = false;
  for (const ch of text) {
    if (/[\p{Lu}\p{Lt}]/u.test(ch)) return false;
    if (/\p{Ll}/u.test(ch)) cased = true;
  }
  return cased;
}

// ---------------------------------------------------------------------------------------------
// Sentences.

/** Period-final words that do not end a sentence: common English titles and shortenings. */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'vs', 'inc', 'co', 'corp', 'ltd', 'u.s', 'a.m',
  'p.m', 'jan', 'feb', 'aug', 'sept', 'oct', 'nov', 'dec', 'gen', 'sen', 'rep', 'col', 'lt',
  'ft', 'ave', 'messrs', 'ph.d',
]);

/** Capitalised words that start a new sentence even after an abbreviation. */
const SENTENCE_STARTERS = new Set([
  'the', 'this', 'these', 'there', 'it', 'he', 'i', 'they', 'in', 'but', 'however', 'if',
  'when', 'while', 'so', 'some', 'many', 'most', 'both', 'thus', 'yet', 'since', 'although',
  'though', 'moreover', 'meanwhile', 'indeed', 'instead', 'even', 'according', 'under',
]);

/** A sentence-ending mark followed by closing punctuation or by whitespace and a next token. */
const END_CONTEXT = /[.?!](?=([)";}\]*:@'({[!?])|\s+(\S+))/gu;
const NUMBER = /^-?[.,]?\d[\d,.-]*\.?$/u;
const INITIAL = /^[^\P{L}]\.$/u;

/**
 * Splits text into sentences the way Punkt does: only at `.`, `?` or `!`, never at a bare line
 * break, keeping abbreviations, initials and list numbers inside their sentence.
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (const match of text.matchAll(END_CONTEXT)) {
    const end = match.index + 1;
    if (match[1] !== undefined && match[2] === undefined && /[!?]/u.test(match[1])) continue;
    const word = wordBefore(text, start, end);
    const previous = wordBefore(text, start, Math.max(start, end - word.length - 1)).trim();
    if (!endsSentence(word, match[2], previous)) continue;
    // Closing quotes and brackets right after the mark stay with the sentence they close.
    const closing = /^["')\]}]+?(?:\s+|(?=--)|$)/u.exec(text.slice(end))?.[0] ?? '';
    const stop = end + closing.trimEnd().length;
    const next = match[2] === undefined ? stop : text.indexOf(match[2], end);
    pushTrimmed(sentences, text.slice(start, stop));
    start = Math.max(next, stop);
  }
  pushTrimmed(sentences, text.slice(start));
  return sentences;
}

/** Number of sentences, as the sentence-count instruction measures it. */
export function countSentences(text: string): number {
  return splitSentences(text).length;
}

function pushTrimmed(out: string[], sentence: string): void {
  const trimmed = sentence.trim();
  if (trimmed) out.push(trimmed);
}

/** The whitespace-delimited word that ends at `end`, not reaching before `start`. */
function wordBefore(text: string, start: number, end: number): string {
  let i = end - 1;
  while (i > start && !/\s/u.test(text[i - 1]!)) i--;
  return text.slice(i, end);
}

/**
 * Punkt's two passes over a candidate: first the word's type, then its next token. Punkt
 * keeps an initial before a capitalised word only when that word looks like a name; lacking
 * its word statistics, an initial after a capitalised word ("John F. Kennedy") is taken as one.
 */
function endsSentence(word: string, nextToken: string | undefined, previous: string): boolean {
  if (word.endsWith('?') || word.endsWith('!')) return true;
  const core = word.replace(/^[("'`{[*:;&#@)}\],-]+/u, '');
  const bare = core.slice(0, -1).toLowerCase();
  const ellipsis = /\.\.$/u.test(core);
  const abbreviation = !ellipsis && (ABBREVIATIONS.has(bare) || ABBREVIATIONS.has(lastHyphenPart(bare)));
  if (nextToken === undefined) return !abbreviation && !ellipsis;

  const next = nextToken.replace(/^[("'`{[*]+/u, '');
  const nextUpper = /^\p{Lu}/u.test(next);
  const nextLower = /^\p{Ll}/u.test(next);
  const nextWord = next.replace(/[^\p{L}\p{N}'-]+$/u, '').toLowerCase();
  if (/^[;:,.!?]/u.test(next)) return !abbreviation && !ellipsis && !INITIAL.test(core);

  if (abbreviation) return nextUpper && SENTENCE_STARTERS.has(nextWord);
  if (ellipsis) return nextUpper;
  if (INITIAL.test(core)) {
    const inName = /^\p{Lu}/u.test(previous) && !/[.?!]$/u.test(previous);
    return nextUpper && (SENTENCE_STARTERS.has(nextWord) || (previous !== '' && !inName));
  }
  if (NUMBER.test(core)) return !nextLower;
  return true;
}

function lastHyphenPart(word: string): string {
  const i = word.lastIndexOf('-');
  return i < 0 ? word : word.slice(i + 1);
}

// ---------------------------------------------------------------------------------------------
// Word tokens.

const CONTRACTION = /^(.+?)('(?:s|m|d|ll|re|ve)|n't)$/iu;

/**
 * Splits text into word and punctuation tokens like a Penn Treebank tokenizer: punctuation
 * stands alone and contractions split ("DON'T" -> "DO", "N'T"); hyphenated words stay whole.
 */
export function wordTokens(text: string): string[] {
  const tokens: string[] = [];
  for (const chunk of text.split(/\s+/u)) {
    if (!chunk) continue;
    for (const piece of chunk.match(/[\p{L}\p{N}\p{M}_'’.-]+|[^\p{L}\p{N}\p{M}_'’.\s-]/gu) ?? []) {
      splitWordPiece(piece, tokens);
    }
  }
  return tokens;
}

function splitWordPiece(piece: string, out: string[]): void {
  // Leading quotes and trailing periods are punctuation, inner ones belong to the word.
  let word = piece;
  const lead = /^['’.-]+/u.exec(word)?.[0] ?? '';
  if (lead) out.push(lead);
  word = word.slice(lead.length);
  const trail = /\.+$/u.exec(word)?.[0] ?? '';
  word = word.slice(0, word.length - trail.length);
  if (word) {
    const c = CONTRACTION.exec(word.replace(/’/gu, "'"));
    if (c) out.push(c[1]!, c[2]!);
    else out.push(word);
  }
  if (trail) out.push(trail);
}
