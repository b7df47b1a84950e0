// Runs the training recipe directly (no gRPC, no broker) on a JSONL file, for tests that compare
// runs: same seed, accumulation, resume, memory. The service runs the same function.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { TrainingStatusSchema, type TrainingStatus } from '@delta/contracts';
import {
  fileSnapshot, hashOf, resolveSettings, train, type TrainingOutcome, type TrainingSettings,
} from '../../src/index.js';

/** What a direct run takes; settings start from the tiny preset. */
export interface DirectRun {
  student: string;
  output: string;
  pairsFile: string;
  settings?: Partial<TrainingSettings>;
  reversePairs?: boolean;
  exportOnnx?: boolean;
  signal?: AbortSignal;
  /** Called after each report, with the step reached (to stop a run part-way). */
  onStep?: (step: number) => void;
  referenceChunk?: number;
  threads?: number;
}

/** The run's outcome and final status. */
export interface DirectResult {
  outcome: TrainingOutcome;
  status: TrainingStatus;
}

/** Trains as a job would, with the given settings. */
export async function runDirect(run: DirectRun): Promise<DirectResult> {
  const settings = { ...resolveSettings('tiny', undefined), ...run.settings };
  const status = create(TrainingStatusSchema);
  const signal = run.signal ?? new AbortController().signal;
  const outcome = await train({
    studentDir: run.student,
    outputDir: run.output,
    outputName: run.output,
    settings,
    reversePairs: run.reversePairs ?? false,
    exportOnnx: run.exportOnnx ?? false,
    specHash: hashOf({ student: run.student, file: run.pairsFile, settings,
      reverse: run.reversePairs ?? false }),
    specJson: {},
    threads: run.threads ?? 1,
    device: 'cpu',
    keepCheckpoints: 2,
    referenceChunk: run.referenceChunk ?? 1024,
    evalMaxPairs: 512,
    readSource: (s) => fileSnapshot(run.pairsFile, path.basename(run.pairsFile),
      { maxPairs: 100_000, signal: s }),
    status,
    signal,
    report: (p) => { if (p.done !== undefined && p.stage === 'training') run.onStep?.(p.done); },
  });
  return { outcome, status };
}

/** The lines of a run's metrics.jsonl. */
export function metricsLines(output: string): Record<string, number | string>[] {
  return readFileSync(path.join(output, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number | string>);
}

/** The bytes of a checkpoint's or model folder's weights. */
export function weights(modelDir: string): Buffer {
  return readFileSync(path.join(modelDir, 'model.safetensors'));
}
