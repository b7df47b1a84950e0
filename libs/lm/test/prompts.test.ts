// The JSONL prompt reader: good lines become prompts, bad ones are reported with their line
// number and reason, and none is dropped silently.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GSM8K_MAPPING, readPromptsJsonl } from '../src/index.js';
import { SHARED_DATA, tempDir } from './helpers.js';

describe('readPromptsJsonl', () => {
  it('reads prompt and messages lines and reports every bad line by number', async () => {
    const file = join(tempDir('prompts'), 'p.jsonl');
    writeFileSync(
      file,
      [
        '{"id": "a", "prompt": "What is 2+3?"}',
        '{"id": 7, "messages": [{"role": "system", "content": "Be brief."}, ' +
          '{"role": "user", "content": "Hi"}]}',
        '{"id": "b", "prompt": "unterminated',
        '',
        '["not", "an", "object"]',
        '{"prompt": "no id"}',
        '{"id": "c", "messages": [{"role": "robot", "content": "x"}]}',
        '{"id": "d", "prompt": "x", "messages": []}',
        '{"id": "a", "prompt": "again"}',
        '{"id": "e", "prompt": "   "}',
        '{"id": "f", "text": "wrong field"}',
        '{"id": "g", "prompt": "last one"}',
      ].join('\n'),
    );
    const { prompts, rejected } = await readPromptsJsonl(file);
    expect(prompts.map((p) => [p.id, p.line])).toEqual([
      ['a', 1],
      ['7', 2],
      ['g', 12],
    ]);
    expect(prompts[1]!.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(prompts[0]!.messages).toEqual([{ role: 'user', content: 'What is 2+3?' }]);
    expect(rejected.map((r) => r.line)).toEqual([3, 5, 6, 7, 8, 9, 10, 11]);
    expect(rejected.map((r) => r.reason)).toEqual([
      expect.stringMatching(/^line 3: not valid JSON \(/),
      'line 5: not a JSON object',
      'line 6: field "id" must be a non-empty string or a number',
      'line 7: messages[0] must be {"role": "system"|"user"|"assistant", "content": string}',
      'line 8: has both "prompt" and "messages"; keep one',
      'line 9: duplicate id a (first on line 1)',
      'line 10: field "prompt" must be a non-empty string',
      'line 11: needs "prompt" or "messages"',
    ]);
  });

  it('carries task, reference and metadata along, and rejects unusable ones by line', async () => {
    const file = join(tempDir('prompts'), 'extras.jsonl');
    writeFileSync(
      file,
      [
        '{"id": "a", "prompt": "2+3?", "task": "arith", "reference": 5, ' +
          '"metadata": {"source": "hand", "level": 1, "checked": true}}',
        '{"id": "b", "prompt": "x", "task": 3}',
        '{"id": "c", "prompt": "x", "reference": [1]}',
        '{"id": "d", "prompt": "x", "metadata": {"k": {"nested": 1}}}',
        '{"id": "e", "prompt": "plain"}',
      ].join('\n'),
    );
    const { prompts, rejected } = await readPromptsJsonl(file);
    expect(prompts).toEqual([
      {
        id: 'a',
        messages: [{ role: 'user', content: '2+3?' }],
        line: 1,
        task: 'arith',
        reference: '5',
        metadata: { source: 'hand', level: '1', checked: 'true' },
      },
      { id: 'e', messages: [{ role: 'user', content: 'plain' }], line: 5 },
    ]);
    expect(rejected.map((r) => r.reason)).toEqual([
      'line 2: field "task" must be a string',
      'line 3: field "reference" must be a string or a number',
      'line 4: metadata.k must be a string, a number or a boolean',
    ]);
  });

  it("maps GSM8K's question/answer shape, with ids that match its model solutions", async () => {
    const { prompts, rejected } = await readPromptsJsonl(
      join(SHARED_DATA, 'gsm8k', 'test.jsonl'),
      GSM8K_MAPPING,
    );
    expect(rejected).toEqual([]);
    expect(prompts.length).toBe(1319);
    expect(prompts[0]!.id).toBe('gsm8k-test-0');
    expect(prompts[0]!.messages[0]!.content).toMatch(/^Janet.s ducks lay 16 eggs per day/);
    expect(prompts[1318]!.id).toBe('gsm8k-test-1318');
  });

  it('rejects a line longer than the limit before parsing it, and goes on', async () => {
    const file = join(tempDir('prompts'), 'long.jsonl');
    const long = JSON.stringify({ id: 'long', prompt: 'x'.repeat(2_000) });
    writeFileSync(file, [long, '{"id": "ok", "prompt": "short"}'].join('\n'));
    const { prompts, rejected } = await readPromptsJsonl(file, { maxLineChars: 1_000 });
    expect(rejected).toEqual([{ line: 1,
      reason: `line 1: ${long.length} characters; a prompt line may have at most 1000` }]);
    expect(prompts.map((p) => p.id)).toEqual(['ok']);
    expect((await readPromptsJsonl(file)).prompts).toHaveLength(2);
  });

  it('fails with PROMPT_FILE_INVALID when the file does not exist', async () => {
    await expect(readPromptsJsonl('/nonexistent/p.jsonl')).rejects.toMatchObject({
      code: 'PROMPT_FILE_INVALID',
    });
  });
});
