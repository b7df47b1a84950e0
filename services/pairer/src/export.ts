// Writes a job's pairs as JSONL in the common preference format: "prompt" as chat messages,
// "chosen" and "rejected" each as one assistant message, beside model names, scores and ids.
// The file is rebuilt from the pairs topic each time and replaced whole, so a restarted job
// never appends a line twice. It does not read the responses.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { PairSchema, type Pair } from '@delta/contracts';
import type { Kafka } from 'kafkajs';
import { readToEnd, type ReadToEndOptions } from './read-to-end.js';

/** One line of the export, as other DPO trainers read it. */
export interface PreferenceLine {
  prompt: Array<{ role: string; content: string }>;
  chosen: Array<{ role: 'assistant'; content: string }>;
  rejected: Array<{ role: 'assistant'; content: string }>;
  chosen_model: string;
  rejected_model: string;
  chosen_score?: number;
  rejected_score?: number;
  pair_id: string;
  run_id: string;
  prompt_id: string;
  sample_index: number;
  policy: string;
  task?: string;
  reference?: string;
}

/** A pair as a preference line. */
export function preferenceLine(pair: Pair): PreferenceLine {
  const line: PreferenceLine = {
    prompt: pair.prompt.map((m) => ({ role: m.role, content: m.content })),
    chosen: [{ role: 'assistant', content: pair.chosen?.text ?? '' }],
    rejected: [{ role: 'assistant', content: pair.rejected?.text ?? '' }],
    chosen_model: pair.chosen?.model ?? '',
    rejected_model: pair.rejected?.model ?? '',
    pair_id: pair.pairId,
    run_id: pair.runId,
    prompt_id: pair.promptId,
    sample_index: pair.sampleIndex,
    policy: pair.policy,
  };
  if (pair.chosen?.score !== undefined) line.chosen_score = pair.chosen.score;
  if (pair.rejected?.score !== undefined) line.rejected_score = pair.rejected.score;
  if (pair.task) line.task = pair.task;
  if (pair.reference) line.reference = pair.reference;
  return line;
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * Export order: by prompt id (numbers in ids compare as numbers), then sample. Sorting is
 * stable, and a prompt's pairs sit in one partition in the order the policy decided them (the
 * ladder's rung order), so they keep that order.
 */
export function comparePairs(a: Pair, b: Pair): number {
  return collator.compare(a.promptId, b.promptId) || a.sampleIndex - b.sampleIndex;
}

/** Every committed pair a job wrote to `pairsTopic`, once each, in export order. */
export async function readJobPairs(
  kafka: Kafka,
  pairsTopic: string,
  jobId: string,
  options: ReadToEndOptions,
): Promise<Pair[]> {
  const byId = new Map<string, Pair>();
  await readToEnd(kafka, pairsTopic, (message) => {
    if (!message.value) return;
    const pair = fromBinary(PairSchema, message.value);
    if (pair.jobId === jobId) byId.set(pair.pairId, pair);
  }, options);
  return [...byId.values()].sort(comparePairs);
}

/** Writes pairs to `file` (a temporary file renamed over it); returns the lines written. */
export async function writeExport(file: string, pairs: readonly Pair[]): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const text = pairs.map((p) => `${JSON.stringify(preferenceLine(p))}\n`).join('');
  try {
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  return pairs.length;
}
