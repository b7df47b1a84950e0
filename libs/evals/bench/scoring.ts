// Prints offline scoring throughput on the shared data: IFEval's 540 GPT-4 responses and the
// 1,319 GSM8K reference solutions. Figures only; nothing here asserts a time.
// Run from the repository root: npx tsx libs/evals/bench/scoring.ts
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { getTask, scoreFiles } from '../src/index.js';

const shared = (...parts: string[]) => path.resolve(process.cwd(), '../shared', ...parts);

async function bench(task: string, data: string, responses: string, samples = 0, rounds = 5) {
  await scoreFiles(getTask(task), data, responses, { samples });
  const times: number[] = [];
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    n = (await scoreFiles(getTask(task), data, responses, { samples })).items.length;
    times.push(performance.now() - start);
  }
  const best = Math.min(...times);
  console.log(`${task.padEnd(6)} ${n} items  best of ${rounds}: ${best.toFixed(0)} ms  ` +
    `(${((n / best) * 1000).toFixed(0)} items/s, ${samples} bootstrap resamples)`);
}

await bench('ifeval', shared('data/ifeval/input_data.jsonl'), shared('data/ifeval/gpt4_responses.jsonl'));
await bench('ifeval', shared('data/ifeval/input_data.jsonl'), shared('data/ifeval/gpt4_responses.jsonl'), 1000);

// GSM8K responses: the reference solutions themselves, written to a temporary file.
const rows = (await readFile(shared('data/gsm8k/test.jsonl'), 'utf8')).trim().split('\n');
const responses = path.join(await mkdtemp(path.join(tmpdir(), 'evals-bench-')), 'responses.jsonl');
await writeFile(responses, rows.map((l) => {
  const row = JSON.parse(l) as { question: string; answer: string };
  return JSON.stringify({ question: row.question, response: row.answer });
}).join('\n'));
await bench('gsm8k', shared('data/gsm8k/test.jsonl'), responses);
