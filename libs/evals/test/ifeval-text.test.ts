// The text measures behind IFEval: sentence splitting as Punkt does it, Treebank-like word
// tokens, Python's case tests, and language detection.
import { describe, expect, it } from 'vitest';

import { countSentences, detectLanguage, splitSentences, wordTokens } from '../src/index.js';
import { isLower, isUpper } from '../src/ifeval/text.js';

describe('splitSentences', () => {
  it('splits at . ? ! followed by space, keeping closing quotes with their sentence', () => {
    expect(splitSentences('He said "go." She went! Did he? Yes.'))
      .toEqual(['He said "go."', 'She went!', 'Did he?', 'Yes.']);
  });

  it('keeps titles, decimals and web addresses inside a sentence', () => {
    expect(countSentences('Mr. Smith paid 3.50 dollars at example.com today.')).toBe(1);
  });

  it('does not split at line breaks without a sentence mark', () => {
    expect(countSentences('Title\n\nFirst line\nsecond line.')).toBe(1);
  });

  it('splits after a list number followed by a capitalised word, as Punkt does', () => {
    expect(splitSentences('Steps:\n1. Boil water.')).toEqual(['Steps:\n1.', 'Boil water.']);
  });

  it('keeps a middle initial inside a name', () => {
    expect(countSentences('John F. Kennedy spoke.')).toBe(1);
  });

  it('treats "e.g." as a sentence end before a capitalised word, like NLTK\'s English model', () => {
    expect(countSentences('Fruit, e.g. Apples.')).toBe(2);
  });
});

describe('wordTokens', () => {
  it('splits punctuation and contractions, keeps hyphenated words whole', () => {
    expect(wordTokens("I DON'T like well-known (old) things.")).toEqual(
      ['I', 'DO', "N'T", 'like', 'well-known', '(', 'old', ')', 'things', '.']);
  });
});

describe('case tests', () => {
  it('follow Python: at least one cased letter, none of the other case', () => {
    expect(isUpper('HELLO, 123!')).toBe(true);
    expect(isUpper('123')).toBe(false);
    expect(isUpper('HELLo')).toBe(false);
    expect(isLower('hello wörld 2')).toBe(true);
    expect(isLower('Hello')).toBe(false);
  });
});

describe('detectLanguage', () => {
  it('returns ISO 639-1 codes', () => {
    expect(detectLanguage('The quick brown fox jumps over the lazy dog near the river bank.')).toBe('en');
    expect(detectLanguage('Der schnelle braune Fuchs springt über den faulen Hund am Fluss.')).toBe('de');
    expect(detectLanguage('Мы пошли в магазин, чтобы купить хлеб и молоко на завтрак.')).toBe('ru');
  });

  it('gives the same answer every time for a borderline text', () => {
    const text = 'ok ja si no';
    const first = detectLanguage(text);
    for (let i = 0; i < 5; i++) expect(detectLanguage(text)).toBe(first);
  });

  it('returns undefined for text without letters', () => {
    expect(detectLanguage('1234 !!!')).toBeUndefined();
  });
});
