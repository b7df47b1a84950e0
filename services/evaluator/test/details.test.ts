// The details file across a resume: lines of tasks without a result (written just before a
// crash) and a line cut short are dropped, so the task's lines are written once when it reruns.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ItemRecord } from '@delta/evals';
import { describe, expect, it } from 'vitest';
import { appendDetails, openDetails } from '../src/details.js';
import { tempDir } from './support/model.js';

const item = (id: string, response: string): ItemRecord => ({
  id, line: Number(id.slice(1)), messages: [{ role: 'user', content: `q ${id}` }],
  response, finishReason: 'stop', score: 1, detail: { ok: true },
});

describe('details file', () => {
  it('starts empty for a fresh job, creating its folder', async () => {
    const file = path.join(tempDir('details'), 'a/b/details.jsonl');
    await openDetails(file, null);
    await appendDetails(file, 'gsm8k', [item('g1', 'The answer is 3.')]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      task: 'gsm8k', id: 'g1', line: 1, messages: [{ role: 'user', content: 'q g1' }],
      response: 'The answer is 3.', finish_reason: 'stop', score: 1, detail: { ok: true },
    });
    await openDetails(file, null);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('keeps only whole lines of finished tasks when a job resumes', async () => {
    const file = path.join(tempDir('details'), 'details.jsonl');
    await openDetails(file, null);
    await appendDetails(file, 'mmlu', [item('m1', 'A'), item('m2', 'B')]);
    await appendDetails(file, 'gsm8k', [item('g1', 'x')]);
    const whole = readFileSync(file, 'utf8');
    writeFileSync(file, `${whole}{"task":"mmlu","id":"m3","li`);

    await openDetails(file, new Set(['mmlu']));
    await appendDetails(file, 'gsm8k', [item('g1', 'x')]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
      .map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((l) => l.id)).toEqual(['m1', 'm2', 'g1']);
  });
});
