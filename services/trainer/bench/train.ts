// Measures a training run through the trainer's recipe (the function a job runs) on a student
// of 7.9M parameters with random weights and the byte-level test tokenizer: time per stage
// (snapshot and tokenizing, reference log-probs, steps, checkpoints, export with ONNX), the
// engine's tokens/s inside steps against tokens/s over the whole loop, and resident memory.
// Prints one JSON line per figure, then a readable summary. Scratch files go to a temp dir.
//
// Run: npm run bench -w @delta/trainer   (options after --: --pairs N, --steps N, --threads N)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { TrainingStatusSchema } from '@delta/contracts';
import { fileSnapshot, hashOf, PairTokenizer, resolveSettings, train } from '../src/index.js';
import { arithmeticPairs, writePairsFile, writeStudent } from '../test/support/student.js';

const { values: args } = parseArgs({ options: {
  pairs: { type: 'string', default: '256' },
  steps: { type: 'string', default: '24' },
  threads: { type: 'string', default: '2' },
} });
const pairCount = Number(args.pairs);
const maxSteps = Number(args.steps);
const threads = Number(args.threads);

const root = mkdtempSync(path.join(tmpdir(), 'delta-trainer-bench-'));
try {
  const student = await writeStudent(path.join(root, 'student'),
    { hiddenSize: 384, layers: 6, heads: 6, context: 512, seed: 3 });
  // Longer replies than the tests use: a few sentences per side.
  const pairs = arithmeticPairs(pairCount).map((p) => ({
    ...p, chosen: `${p.chosen} ${p.chosen} The sum is what the question asks for.`.repeat(2),
    rejected: `${p.rejected} I am not sure about it.`.repeat(3),
  }));
  const pairsFile = writePairsFile(path.join(root, 'pairs.jsonl'), pairs);

  const tokenizer = PairTokenizer.fromFolder(student);
  const t = performance.now();
  const tokenized = pairs.map((p) => tokenizer.tokenize({ pairId: p.id, ...p }, 512));
  const tokenizeSeconds = (performance.now() - t) / 1000;
  const lengths = tokenized.flatMap((r) => ('pair' in r
    ? [r.pair.prompt.length + r.pair.chosen.length, r.pair.prompt.length + r.pair.rejected.length]
    : []));

  const settings = { ...resolveSettings('tiny', undefined), maxSteps, epochs: 10,
    checkpointEvery: Math.max(1, Math.floor(maxSteps / 2)), batchSize: 8, microBatchSize: 4,
    maxLength: 512, evalFraction: 0.05 };
  const stages: { stage: string; at: number }[] = [];
  const stepDone = new Map<number, number>();
  const rss: number[] = [];
  const start = performance.now();
  await train({
    studentDir: student, outputDir: path.join(root, 'out'), outputName: 'out', settings,
    reversePairs: false, exportOnnx: true, specHash: hashOf({ settings, pairCount }),
    specJson: {}, threads, device: 'cpu', keepCheckpoints: 2, referenceChunk: 1024,
    evalMaxPairs: 512,
    readSource: (signal) => fileSnapshot(pairsFile, 'pairs.jsonl', { maxPairs: 1e6, signal }),
    status: create(TrainingStatusSchema),
    signal: new AbortController().signal,
    report: (p) => {
      const stage = (p.stage ?? '').replace(/ \(.*\)$| step \d+$/, '');
      if (stages.at(-1)?.stage !== stage) stages.push({ stage, at: performance.now() });
      if (p.stage === 'training' && p.done !== undefined) stepDone.set(p.done, performance.now());
      rss.push(process.memoryUsage().rss);
    },
  });
  const end = performance.now();

  const seconds = new Map<string, number>();
  stages.forEach((s, i) => {
    const next = stages[i + 1]?.at ?? end;
    seconds.set(s.stage, (seconds.get(s.stage) ?? 0) + (next - s.at) / 1000);
  });
  const lines = readFileSync(path.join(root, 'out', 'metrics.jsonl'), 'utf8').split('\n')
    .filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((l) => l.split === 'step');
  const engineSeconds = lines.reduce((a, l) => a + Number(l.seconds), 0);
  const tokens = lines.reduce((a, l) => a + Number(l.tokens), 0);
  // Wall time of a step as the loop sees it: between two step reports with no checkpoint between.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const walls = lines.slice(1).map((l) => Number(l.step))
    .filter((s) => (s - 1) % settings.checkpointEvery !== 0)
    .map((s) => (stepDone.get(s)! - stepDone.get(s - 1)!) / 1000);
  const figures = {
    pairs: pairCount,
    mean_sequence_tokens: lengths.reduce((a, b) => a + b, 0) / lengths.length,
    tokenize_pairs_per_s: pairCount / tokenizeSeconds,
    steps: lines.length,
    engine_tokens_per_s: tokens / engineSeconds,
    engine_step_median_s: median(lines.map((l) => Number(l.seconds))),
    loop_step_median_s: median(walls),
    stage_seconds: Object.fromEntries(seconds),
    total_seconds: (end - start) / 1000,
    peak_rss_mb: Math.max(...rss) / 2 ** 20,
    threads,
  };
  for (const [name, value] of Object.entries(figures)) {
    process.stdout.write(`${JSON.stringify({ bench: 'trainer', name, value })}\n`);
  }
  process.stdout.write(`trainer: ${pairCount} pairs, ${lines.length} steps of 8 pairs; engine ` +
    `${figures.engine_tokens_per_s.toFixed(0)} tok/s, median step ` +
    `${figures.engine_step_median_s.toFixed(3)} s in the engine, ` +
    `${figures.loop_step_median_s.toFixed(3)} s in the loop; reference ` +
    `${(seconds.get('caching reference log-probs') ?? 0).toFixed(2)} s; export ` +
    `${(seconds.get('exporting the tuned model') ?? 0).toFixed(2)} s; total ` +
    `${figures.total_seconds.toFixed(1)} s; peak RSS ${figures.peak_rss_mb.toFixed(0)} MiB\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
