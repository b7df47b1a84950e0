// The built-in world's tasks: `arith` grades chained arithmetic on its steps and final answer,
// `sections` counts "##" sections. Expected values are worked out by hand in each case's
// comment from the scoring rule (score = 0.5 x exact + 0.5 x correct steps / steps).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import {
  arith, arithAnswer, arithSolution, countSections, getTask, loadArith, loadSections,
  parseArithPrompt, scoreArith, sections,
} from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'evals-world-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, lines: string[]) => {
  const f = path.join(dir, name);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
};

const p = parseArithPrompt('9-6+4+5=')!;

describe('arith', () => {
  it('reads a chain prompt and solves it left to right', () => {
    expect(p).toEqual({ operands: [9, 6, 4, 5], operators: ['-', '+', '+'] });
    expect(arithAnswer(p)).toBe(12);
    expect(arithSolution(p)).toBe('9-6=3;3+4=7;7+5=12;#12');
    expect(parseArithPrompt('9-6+4')).toBeNull();
    expect(parseArithPrompt('9*6=')).toBeNull();
  });

  it.each([
    // Perfect: 3 of 3 steps and the answer -> 0.5 + 0.5.
    ['9-6=3;3+4=7;7+5=12;#12', 1, true, 3],
    // Slip in step 1 (9-6=4): step 1 wrong; steps 2 and 3 are right from the written 4
    // (4+4=8, 8+5=13); the final 13 is wrong -> 0.5 x 2/3.
    ['9-6=4;4+4=8;8+5=13;#13', 1 / 3, false, 2],
    // Right answer after a wrong operand in step 2 (3+5=8 uses 5, not 4): 2 of 3 steps, and
    // the final is wrong (8+5=13) -> 0.5 x 2/3.
    ['9-6=3;3+5=8;8+5=13;#13', 1 / 3, false, 2],
    // Stops one step early with the right-looking final: the answer must follow all 3 steps.
    ['9-6=3;3+4=7;#7', 1 / 3, false, 2],
    // The right number with no steps at all: 0 steps, the answer does not count -> 0.
    ['#12', 0, false, 0],
    // Garbage.
    ['hello', 0, false, 0],
  ])('grades %j as %f', (response, score, exact, steps) => {
    const v = scoreArith(p, response);
    expect(v.score).toBeCloseTo(score, 12);
    expect(v.exact).toBe(exact);
    expect(v.stepsCorrect).toBe(steps);
    expect(v.stepsNeeded).toBe(3);
  });

  it('loads a world prompt file and rejects a wrong reference with its line', async () => {
    const good = file('arith.jsonl', [
      JSON.stringify({ id: 'a0', prompt: '9-6+4+5=', task: 'arith', reference: '9-6=3;3+4=7;7+5=12;#12' }),
      JSON.stringify({ id: 'a1', prompt: '1+2+3=' }),
    ]);
    const docs = await loadArith(good);
    expect(docs.map((d) => [d.id, d.text, d.line])).toEqual([['a0', '9-6+4+5=', 1],
      ['a1', '1+2+3=', 2]]);
    const bad = file('bad.jsonl', [
      JSON.stringify({ id: 'a0', prompt: '1+2+3=' }),
      JSON.stringify({ id: 'a1', prompt: '1+2+3=', reference: '1+2=3;3+3=7;#7' }),
    ]);
    await expect(loadArith(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT',
      location: { line: 2, field: 'reference' } });
    const notChain = file('nc.jsonl', [JSON.stringify({ id: 'x', prompt: 'notes on a red cat:' })]);
    await expect(loadArith(notChain)).rejects.toMatchObject({ location: { line: 1, field: 'prompt' } });
  });

  it('is registered, prompts with the bare chain and reports steps micro-averaged', () => {
    expect(getTask('arith')).toBe(arith);
    const doc = { id: 'a', text: '9-6+4+5=', line: 1, prompt: '9-6+4+5=', ...p };
    expect(arith.messages(doc, [])).toEqual([{ role: 'user', content: '9-6+4+5=' }]);
    expect(arith.score(doc, '9-6=4;4+4=8;8+5=13;#13').values).toEqual({
      score: { num: 1 / 3, den: 1 }, exact_match: { num: 0, den: 1 }, steps: { num: 2, den: 3 },
    });
  });
});

describe('sections', () => {
  it('counts lines opening with ## and flags a reply cut mid-line', () => {
    expect(countSections('## cat runs.\n## cat digs.\n## cat eats.')).toBe(3);
    expect(countSections('# cat\n ## cat\nno')).toBe(0);
    const doc = { id: 's', text: 'notes on a red cat:', line: 1, prompt: 'notes on a red cat:' };
    expect(sections.score(doc, '## cat runs.\n## cat digs.').values).toEqual({
      sections: { num: 2, den: 1 }, hit_cap: { num: 0, den: 1 } });
    expect(sections.score(doc, '## cat runs.\n## cat di').values.hit_cap).toEqual({ num: 1, den: 1 });
    expect(getTask('sections')).toBe(sections);
  });

  it('loads prompt files and refuses another task\'s lines', async () => {
    const f = file('s.jsonl', [JSON.stringify({ id: 's0', prompt: 'notes on a red cat:', task: 'sections' })]);
    expect((await loadSections(f)).map((d) => d.text)).toEqual(['notes on a red cat:']);
    const other = file('o.jsonl', [JSON.stringify({ id: 's0', prompt: '1+2=', task: 'arith' })]);
    await expect(loadSections(other)).rejects.toMatchObject({ location: { line: 1, field: 'task' } });
  });
});
