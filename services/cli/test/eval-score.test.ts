// `delta eval score` run as a subprocess, the way users and scripts call it: one JSON object on
// stdout, errors on stderr naming the file and line, and the exit code.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const shared = (...parts: string[]) => path.resolve(repoRoot, '../shared', ...parts);
const bin = path.resolve(repoRoot, 'services/cli/src/bin.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command from its sources (tsx), resolving workspace packages to their sources too. */
function delta(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=@delta/source', '--import', 'tsx', bin, ...args],
      { cwd: repoRoot, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }));
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'delta-cli-'));
});

async function gsm8kResponses(name: string, pick: (row: Record<string, unknown>) => string): Promise<string> {
  const file = path.join(dir, name);
  const rows = (await readFile(shared('data/gsm8k/model_solutions.jsonl'), 'utf8')).trim().split('\n');
  await writeFile(file, rows.map((l) => {
    const row = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify({ question: row.question, response: pick(row) });
  }).join('\n') + '\n');
  return file;
}

describe('delta eval score', () => {
  it('scores the IFEval GPT-4 responses: one JSON object with the published figures', async () => {
    const details = path.join(dir, 'ifeval-details.jsonl');
    const run = await delta('eval', 'score', '--task', 'ifeval',
      '--data', shared('data/ifeval/input_data.jsonl'),
      '--responses', shared('data/ifeval/gpt4_responses.jsonl'), '--details', details);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(out).toMatchObject({ task: 'ifeval', n: 540, primary_metric: 'prompt_level_strict_acc' });
    expect(out.metrics.prompt_level_strict_acc.value).toBeCloseTo(417 / 540, 12);
    expect(out.metrics.prompt_level_loose_acc.value).toBeCloseTo(431 / 540, 12);
    expect(out.metrics.prompt_level_strict_acc.n).toBe(540);
    expect(out.metrics.prompt_level_strict_acc.ci_low).toBeLessThan(out.metrics.prompt_level_strict_acc.value);
    expect(out.responses).toMatchObject({ scored: 540, malformed: 0, unmatched: 0, skipped_lines: [] });

    const lines = (await readFile(details, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(540);
    expect(lines[0]).toEqual({
      id: '1000', response_line: 1, score: 0, key: '1000',
      instructions: [
        { id: 'punctuation:no_comma', strict: true, loose: true },
        { id: 'detectable_format:number_highlighted_sections', strict: true, loose: true },
        { id: 'length_constraints:number_words', strict: false, loose: false },
      ],
    });
  });

  it('scores every GSM8K reference solution correct under both extractions', async () => {
    const responses = await gsm8kResponses('reference.jsonl', (row) => row.answer as string);
    const details = path.join(dir, 'gsm8k-details.jsonl');
    const run = await delta('eval', 'score', '--task', 'gsm8k', '--data', shared('data/gsm8k/test.jsonl'),
      '--responses', responses, '--details', details);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.n).toBe(1319);
    expect(out.metrics.exact_match_strict).toMatchObject({ value: 1, ci_low: 1, ci_high: 1, n: 1319 });
    expect(out.metrics.exact_match_flexible).toMatchObject({ value: 1, n: 1319 });
    const first = JSON.parse((await readFile(details, 'utf8')).split('\n')[0]!);
    expect(first).toEqual({ id: '0', response_line: 1, score: 1, gold: '18', strict: '18',
      flexible: '18', strict_ok: true, flexible_ok: true });
  });

  it('scores the 175B verifier model\'s "A: N" answers by the flexible extraction', async () => {
    const responses = await gsm8kResponses('175b.jsonl',
      (row) => (row.responses as Record<string, string>)['175b_verification']!);
    const run = await delta('eval', 'score', '--task', 'gsm8k', '--data', shared('data/gsm8k/test.jsonl'),
      '--responses', responses);
    const out = JSON.parse(run.stdout);
    // 742 of 1319 correct (see libs/evals/test/gsm8k.test.ts for all four models).
    expect(out.metrics.exact_match_flexible.value).toBeCloseTo(742 / 1319, 12);
    expect(out.metrics.exact_match_strict.value).toBe(0);
  });

  it('fails on a malformed response line, naming the file and line, and counts them all', async () => {
    const responses = path.join(dir, 'bad.jsonl');
    await writeFile(responses, [
      JSON.stringify({ question: 'x', response: '1' }),
      '{"question": "broken',
      JSON.stringify({ question: 'y' }),
    ].join('\n') + '\n');
    const run = await delta('eval', 'score', '--task', 'gsm8k', '--data', shared('data/gsm8k/test.jsonl'),
      '--responses', responses);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^delta eval score: ${responses}:1: no item with this question ` +
      '\\(3 bad lines in all; --skip-bad-lines scores the rest\\)\n$'));
  });

  it('with --skip-bad-lines scores the rest and reports the skipped lines', async () => {
    const rows = (await readFile(shared('data/gsm8k/test.jsonl'), 'utf8')).trim().split('\n').slice(0, 2);
    const responses = path.join(dir, 'partly-bad.jsonl');
    await writeFile(responses, [
      JSON.stringify({ question: JSON.parse(rows[0]!).question, response: 'The answer is 18.' }),
      'not json',
      JSON.stringify({ question: JSON.parse(rows[1]!).question, response: 'The answer is 2.' }),
    ].join('\n') + '\n');
    const run = await delta('eval', 'score', '--task', 'gsm8k', '--data', shared('data/gsm8k/test.jsonl'),
      '--responses', responses, '--skip-bad-lines');
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/skipped .*partly-bad\.jsonl:2: /);
    const out = JSON.parse(run.stdout);
    expect(out.responses).toMatchObject({ scored: 2, malformed: 1, unmatched: 0, skipped_lines: [2] });
    expect(out.metrics.exact_match_flexible.value).toBe(0.5);
    expect(out.data.missing).toBe(1317);
  });

  it('reports a bad data line with its file and line', async () => {
    const data = path.join(dir, 'data.jsonl');
    await writeFile(data, '{"question": "q", "answer": "#### 1"}\n{"question": "q2", "answer": "no final line"}\n');
    const run = await delta('eval', 'score', '--task', 'gsm8k', '--data', data, '--responses', data);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`delta eval score: ${data}:2 field "answer": reference solution has no "#### N" line\n`);
  });

  it('exits 2 with usage for a missing option, 1 for an unknown task', async () => {
    const missing = await delta('eval', 'score', '--task', 'gsm8k');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--data is required');
    expect(missing.stderr).toContain('usage: delta eval score');
    const unknown = await delta('eval', 'score', '--task', 'nope', '--data', 'd', '--responses', 'r');
    expect(unknown.code).toBe(1);
    // The list grows as tasks are registered; the ones shipped with the library are always in it.
    expect(unknown.stderr).toMatch(
      /unknown task "nope"; known tasks: .*gsm8k, ifeval, math, mmlu, mmlu_cloze/u);
  });

  it('lists its commands for --help and fails for an unknown command', async () => {
    const help = await delta('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('eval score');
    const unknown = await delta('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});
