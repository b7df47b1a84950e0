// Matching a responses file to task items: every line is scored, or reported as malformed or
// unmatched with its line number; none vanishes.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { getTask, matchResponses, scoreFiles } from '../src/index.js';

async function files(data: string, responses: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'evals-responses-'));
  const dataFile = path.join(dir, 'test.jsonl');
  const responsesFile = path.join(dir, 'responses.jsonl');
  await writeFile(dataFile, data);
  await writeFile(responsesFile, responses);
  return { dataFile, responsesFile };
}

const DATA = [
  { question: 'One plus one?', answer: '1+1=2\n#### 2' },
  { question: 'Two plus two?', answer: '2+2=4\n#### 4' },
  { question: 'Three plus three?', answer: '3+3=6\n#### 6' },
].map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('matchResponses and scoreFiles', () => {
  it('accounts for every line: scored, malformed or unmatched', async () => {
    const { dataFile, responsesFile } = await files(DATA, [
      JSON.stringify({ question: 'Two plus two?', response: 'The answer is 4.' }),
      '{"question": "One plus one?", "response": ',
      JSON.stringify({ question: 'Unknown?', response: '1' }),
      JSON.stringify({ question: 'One plus one?' }),
      '',
      JSON.stringify({ id: '0', response: 'A: 2' }),
    ].join('\n'));
    const report = await scoreFiles(getTask('gsm8k'), dataFile, responsesFile);
    expect(report.responses).toMatchObject({
      scored: 2,
      missing: 1,
      malformed: [{ line: 2, reason: expect.any(String) }, { line: 4, reason: 'no string field "response"' }],
      unmatched: [{ line: 3, reason: 'no item with this question' }],
    });
    // Items come back in data order, each with the response line it came from.
    expect(report.items.map((i) => [i.id, i.line, i.score])).toEqual([['0', 6, 1], ['1', 1, 1]]);
    expect(report.result.metrics.map((m) => [m.name, m.value, m.n])).toEqual([
      ['exact_match_flexible', 1, 2],
      ['exact_match_strict', 0.5, 2],
    ]);
  });

  it('rejects a second response to the same item, naming both lines', async () => {
    const line = JSON.stringify({ question: 'One plus one?', response: '2' });
    const { dataFile, responsesFile } = await files(DATA, `${line}\n${line}\n`);
    const docs = await getTask('gsm8k').load(dataFile);
    await expect(matchResponses(responsesFile, docs, 'question'))
      .rejects.toThrow(`${responsesFile}:2: second response to the item answered on line 1`);
  });

  it('names the file and line of a malformed data line', async () => {
    const { dataFile, responsesFile } = await files(`${DATA}{"question": 3, "answer": "#### 1"}\n`, '');
    await expect(scoreFiles(getTask('gsm8k'), dataFile, responsesFile))
      .rejects.toThrow(`${dataFile}:4 field "question": expected a string, got number`);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    await expect(scoreFiles(getTask('gsm8k'), '/nonexistent/test.jsonl', 'x'))
      .rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
