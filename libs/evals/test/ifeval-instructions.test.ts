// Each IFEval instruction kind with a text that follows it and one that does not. Expected
// verdicts follow the benchmark's rule for each kind (stated in the test names).
import { describe, expect, it } from 'vitest';

import { buildInstruction, countWords, INSTRUCTION_IDS, scoreIfEval } from '../src/index.js';
import { buildIfEvalItem } from '../src/ifeval/score.js';

interface Case {
  id: string;
  kwargs?: Record<string, unknown>;
  prompt?: string;
  pass: string;
  fail: string;
}

const ENGLISH = 'This is a plain english sentence about the weather and the sea today.';

const CASES: Case[] = [
  { id: 'keywords:existence', kwargs: { keywords: ['river', 'Stone'] },
    pass: 'A stone sat by the River.', fail: 'A stone sat by the lake.' },
  { id: 'keywords:frequency', kwargs: { keyword: 'cat', frequency: 2, relation: 'at least' },
    pass: 'Cat, cat.', fail: 'One cat.' },
  { id: 'keywords:forbidden_words', kwargs: { forbidden_words: ['red'] },
    pass: 'A reddish tone and a bored hue.', fail: 'A Red tone.' },
  { id: 'keywords:letter_frequency', kwargs: { letter: 'z', let_frequency: 3, let_relation: 'less than' },
    pass: 'Zoo and zip.', fail: 'Zoo, zip and zap.' },
  { id: 'language:response_language', kwargs: { language: 'de' },
    pass: 'Das ist ein kurzer deutscher Satz über das Wetter und die Stadt.', fail: ENGLISH },
  { id: 'length_constraints:number_sentences', kwargs: { num_sentences: 3, relation: 'less than' },
    pass: 'Mr. Smith came home. He slept.', fail: 'One. Two! Three?' },
  { id: 'length_constraints:number_paragraphs', kwargs: { num_paragraphs: 2 },
    pass: 'First part.\n***\nSecond part.', fail: 'First.\n***\n\n***\nSecond.' },
  { id: 'length_constraints:number_words', kwargs: { num_words: 5, relation: 'at least' },
    pass: "It's a long, long road.", fail: 'Too short here.' },
  { id: 'length_constraints:nth_paragraph_first_word',
    kwargs: { num_paragraphs: 2, nth_paragraph: 2, first_word: 'then' },
    pass: 'First paragraph.\n\n"Then, the second.', fail: 'First paragraph.\n\nAnd the second.' },
  { id: 'detectable_content:number_placeholders', kwargs: { num_placeholders: 2 },
    pass: 'Dear [name], see you at [address].', fail: 'Dear [name], see you soon.' },
  { id: 'detectable_content:postscript', kwargs: { postscript_marker: 'P.S.' },
    pass: 'Hello there.\n\nP.S. See you soon.', fail: 'Hello there. PS see you.' },
  { id: 'detectable_format:number_bullet_lists', kwargs: { num_bullets: 2 },
    pass: 'Items:\n* one\n- two', fail: 'Items:\n* one\n* two\n* three' },
  { id: 'detectable_format:constrained_response',
    pass: '  My answer is maybe.  ', fail: 'Maybe, I think.' },
  { id: 'detectable_format:number_highlighted_sections', kwargs: { num_highlights: 2 },
    pass: 'See *part one* and **part two**.', fail: 'See *part one* and ** **.' },
  { id: 'detectable_format:multiple_sections', kwargs: { section_spliter: 'SECTION', num_sections: 2 },
    pass: 'SECTION 1\nIntro.\nSECTION 2\nBody.', fail: 'SECTION 1\nIntro. Section 2 body.' },
  { id: 'detectable_format:json_format',
    pass: '```json\n{"a": [1, 2]}\n```', fail: '{"a": [1, 2],}' },
  { id: 'detectable_format:title',
    pass: '<<A Poem of Joy>>\nLines.', fail: '<< >>\nLines.' },
  { id: 'combination:two_responses',
    pass: 'First answer.\n******\nSecond answer.', fail: 'Same.\n******\nSame.' },
  { id: 'combination:repeat_prompt', kwargs: { prompt_to_repeat: 'Write a poem.' },
    pass: 'write a POEM. Roses are red.', fail: 'Here is a poem: write a poem.' },
  { id: 'startend:end_checker', kwargs: { end_phrase: 'Any other questions?' },
    pass: 'That is all. Any other questions?"', fail: 'Any other questions? That is all.' },
  { id: 'startend:quotation',
    pass: ' "Wrapped in quotes." ', fail: '"Only opening.' },
  { id: 'change_case:capital_word_frequency', kwargs: { capital_frequency: 3, capital_relation: 'at least' },
    pass: "I DON'T know.", fail: 'I do NOT know.' },
  { id: 'change_case:english_capital',
    pass: ENGLISH.toUpperCase(), fail: ENGLISH },
  { id: 'change_case:english_lowercase',
    pass: ENGLISH.toLowerCase(), fail: ENGLISH },
  { id: 'punctuation:no_comma',
    pass: 'No commas here.', fail: 'One, here.' },
];

describe('IFEval instruction kinds', () => {
  it('covers all 25 kinds of the benchmark', () => {
    expect(INSTRUCTION_IDS).toHaveLength(25);
    expect(new Set(CASES.map((c) => c.id))).toEqual(new Set(INSTRUCTION_IDS));
  });

  for (const c of CASES) {
    it(`${c.id}: follows on a passing text, fails on a failing one`, () => {
      const check = buildInstruction({ id: c.id, kwargs: c.kwargs ?? {}, prompt: c.prompt ?? '' });
      expect(check(c.pass)).toBe(true);
      expect(check(c.fail)).toBe(false);
    });
  }
});

describe('IFEval instruction rules', () => {
  const check = (id: string, kwargs: Record<string, unknown>) => buildInstruction({ id, kwargs, prompt: '' });

  it('counts words as \\w runs in any script, marks splitting Devanagari words', () => {
    const atLeast = (n: number) => check('length_constraints:number_words', { num_words: n, relation: 'at least' });
    expect(atLeast(4)('naïve café, 2 ok')).toBe(true);
    expect(atLeast(5)('naïve café, 2 ok')).toBe(false);
    // Python's re.findall(r"\w+", ...) finds 5 runs here: vowel signs and virama are not \w.
    expect(countWords('नमस्ते दुनिया')).toBe(5);
  });

  it('does not split sentences at a bare line break or an abbreviation', () => {
    const lessThan2 = check('length_constraints:number_sentences', { num_sentences: 2, relation: 'less than' });
    expect(lessThan2('A heading\nthen the text, with Dr. Who inside.')).toBe(true);
  });

  it('counts a numbered list item as ending the sentence before it', () => {
    const atLeast3 = check('length_constraints:number_sentences', { num_sentences: 3, relation: 'at least' });
    expect(atLeast3('Steps:\n1. Boil water.\n2. Add tea.')).toBe(true);
  });

  it('treats a forbidden word as a whole word only', () => {
    const forbid = check('keywords:forbidden_words', { forbidden_words: ['art'] });
    expect(forbid('A smart start.')).toBe(true);
    expect(forbid('Modern ART.')).toBe(false);
  });

  it('rejects an empty paragraph between dividers but allows one at either end', () => {
    const two = check('length_constraints:number_paragraphs', { num_paragraphs: 2 });
    expect(two('***\nOne\n***\nTwo\n***')).toBe(true);
  });

  it('reads the first word of the nth paragraph up to punctuation, lowercased', () => {
    const nth = check('length_constraints:nth_paragraph_first_word',
      { num_paragraphs: 3, nth_paragraph: 3, first_word: 'finally' });
    expect(nth('One.\n\nTwo.\n\nFinally, three.')).toBe(true);
    expect(nth('One.\n\nTwo.\n\nFinally.\n\nFour.')).toBe(false);
  });

  it('names the line and kwarg of a bad instruction spec', () => {
    expect(() => buildInstruction({ id: 'keywords:frequency', kwargs: { keyword: 'a', frequency: 2, relation: 'most' },
      prompt: '', location: { file: 'in.jsonl', line: 7 } }))
      .toThrow('in.jsonl:7 field "kwargs.relation": keywords:frequency: expected "less than" or "at least", got "most"');
    expect(() => buildInstruction({ id: 'no:such', kwargs: {}, prompt: '' })).toThrow('unknown instruction "no:such"');
  });
});

describe('IFEval strict and loose scoring', () => {
  const item = buildIfEvalItem('1', 'p', [
    { id: 'startend:quotation', kwargs: {} },
    { id: 'punctuation:no_comma', kwargs: {} },
  ]);

  it('loose scoring forgives a first line before the answer', () => {
    const verdict = scoreIfEval(item, 'Sure here it is\n"The answer."');
    expect(verdict).toEqual({ strict: [false, true], loose: [true, true] });
  });

  it('loose scoring forgives markdown asterisks', () => {
    const bold = buildIfEvalItem('2', 'p', [{ id: 'startend:end_checker', kwargs: { end_phrase: 'The end.' } }]);
    expect(scoreIfEval(bold, 'Story. **The end.**')).toEqual({ strict: [false], loose: [true] });
  });

  it('an empty response follows no instruction, even "no comma"', () => {
    expect(scoreIfEval(item, '  \n ')).toEqual({ strict: [false, false], loose: [false, false] });
  });
});
