// The tuning loop behind the demo's settings, on the engine directly (no services, seconds per
// run): the teachers of a built world answer the pairing prompts, the pairs are formed as the
// pairer would (identical and truncated answers dropped), and each run of a grid tunes the
// student and is scored on the evaluation prompts, paired against the student's own start.
// Prints one JSON line per run. It settles hyperparameters; `delta run` is the real pipeline.
//
//   npx tsx --conditions=@delta/source libs/world/bench/tune.ts --world <world dir> \
//     [--grid <file.json>] [--out runs.jsonl]
//
// A grid is a JSON list of runs: {name, kind, lr, beta?, steps, nll?}; kind is dpo (the ladder
// pairs), filtered (only pairs whose chosen side scores higher on the arith scorer), sft (on
// the chosen side), reversed, no_delta (two sampled answers of the strong teacher),
// format_dpo or format_sft (the notes pairs). Without --grid it runs DEFAULT_GRID.
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Model, referenceLogProbs, Trainer, type PromptPair, type StepMetrics,
} from '@delta/engine';
import { bootstrapMetric, parseArithPrompt, scoreArith } from '@delta/evals';
import { LanguageModel } from '@delta/lm';
import {
  BOS_ID, encode, EOS_ID, measureArith, measureSections, Rng, writeModelFolder,
} from '../src/index.js';

interface Run {
  name: string;
  kind: 'dpo' | 'filtered' | 'sft' | 'reversed' | 'no_delta' | 'format_dpo' | 'format_sft';
  lr: number;
  beta?: number;
  steps: number;
  nll?: number;
  /** The DPO-family loss; dpo_norm (the paper's) unless named. */
  loss?: 'dpo_norm' | 'sigmoid' | 'ipo' | 'hinge';
}

const DEFAULT_GRID: Run[] = [
  ...[3e-6, 1e-5, 3e-5].map((lr): Run => ({ name: `dpo-${lr}`, kind: 'dpo', lr, beta: 5,
    steps: 100 })),
  { name: 'dpo-1e-5-beta20', kind: 'dpo', lr: 1e-5, beta: 20, steps: 100 },
  { name: 'filtered-1e-5', kind: 'filtered', lr: 1e-5, beta: 5, steps: 100 },
  { name: 'sft-1e-5', kind: 'sft', lr: 1e-5, steps: 100 },
  { name: 'reversed-1e-5', kind: 'reversed', lr: 1e-5, beta: 5, steps: 100 },
  { name: 'no-delta-1e-5', kind: 'no_delta', lr: 1e-5, beta: 5, steps: 100 },
  { name: 'format-dpo-3e-5', kind: 'format_dpo', lr: 3e-5, beta: 5, steps: 60 },
  { name: 'format-sft-1e-4', kind: 'format_sft', lr: 1e-4, steps: 60 },
];

const { values: args } = parseArgs({ options: {
  world: { type: 'string' }, grid: { type: 'string' }, out: { type: 'string' },
  threads: { type: 'string', default: '2' },
} });
if (!args.world) throw new Error('--world <folder of a built world> is required');
const world = path.resolve(args.world);
const threads = Number(args.threads);
const grid = args.grid ? (JSON.parse(readFileSync(args.grid, 'utf8')) as Run[]) : DEFAULT_GRID;
const prompts = (name: string) => readFileSync(path.join(world, 'prompts', `${name}.jsonl`), 'utf8')
  .split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { prompt: string }).prompt);

interface TextPair { prompt: string; chosen: string; rejected: string }

async function answer(model: string, list: string[], maxNewTokens: number, temperature = 0,
  seed = 0): Promise<{ text: string; done: boolean }[]> {
  const lm = await LanguageModel.load(path.join(world, model), { threads });
  try {
    const out = await lm.generate(list.map((p, i) => ({
      id: String(i), messages: [{ role: 'user', content: p }], maxNewTokens,
      sampling: { temperature }, seed: seed * 1_000_003 + i,
    })), { batchSize: 64 });
    return out.map(([r]) => ({ text: r!.text, done: r!.finishReason === 'stop' }));
  } finally {
    await lm.decoder.dispose();
  }
}

function pairUp(list: string[], a: { text: string; done: boolean }[],
  b: { text: string; done: boolean }[]): TextPair[] {
  return list.flatMap((prompt, i) => (a[i]!.done && b[i]!.done && a[i]!.text !== b[i]!.text
    ? [{ prompt, chosen: a[i]!.text, rejected: b[i]!.text }] : []));
}

const arithScore = (p: TextPair, side: 'chosen' | 'rejected') =>
  scoreArith(parseArithPrompt(p.prompt)!, p[side]).score;

// Pairs, once for the whole grid.
const pairPrompts = prompts('arith-pairs');
const notePrompts = prompts('sections-pairs');
const ladder = pairUp(pairPrompts, await answer('strong', pairPrompts, 64),
  await answer('weak', pairPrompts, 64));
const sampled = pairUp(pairPrompts, await answer('strong', pairPrompts, 64, 1, 1),
  await answer('strong', pairPrompts, 64, 1, 2));
const notes = pairUp(notePrompts, await answer('strong', notePrompts, 160),
  await answer('weak', notePrompts, 160));
const filtered = ladder.filter((p) => arithScore(p, 'chosen') > arithScore(p, 'rejected'));
const worse = ladder.filter((p) => arithScore(p, 'chosen') < arithScore(p, 'rejected')).length;
console.log(JSON.stringify({ pairs: { ladder: ladder.length, chosenBetter: filtered.length,
  chosenWorse: worse, noDelta: sampled.length, notes: notes.length } }));

const evalArith = prompts('arith-eval');
const evalNotes = prompts('sections-eval');
const student = path.join(world, 'student');
const start = await measureArith(student, evalArith, { threads });
const startNotes = await measureSections(student, evalNotes, { threads });
console.log(JSON.stringify({ student: { arith: start.metrics.score!.value,
  sections: startNotes.metrics.sections!.value } }));

const tokens = (p: TextPair): PromptPair => ({ prompt: [BOS_ID, ...encode(p.prompt)],
  chosen: [...encode(p.chosen), EOS_ID], rejected: [...encode(p.rejected), EOS_ID] });

for (const run of grid) {
  const format = run.kind.startsWith('format');
  const sft = run.kind === 'sft' || run.kind === 'format_sft';
  const source = format ? notes : run.kind === 'no_delta' ? sampled
    : run.kind === 'filtered' ? filtered : ladder;
  const pairs = source.map(tokens).map((p) => (run.kind === 'reversed'
    ? { prompt: p.prompt, chosen: p.rejected, rejected: p.chosen } : p));

  // The trainer service's schedule and batch: cosine to 0.1 x lr, 10% warmup, 32 pairs a step.
  const model = await Model.load(student, { threads });
  const trainer = new Trainer(model, {
    loss: sft ? { type: 'sft' } : { type: run.loss ?? 'dpo_norm', beta: run.beta ?? 5, nllAlpha: run.nll ?? 0 },
    optimizer: { lr: run.lr, weightDecay: 0 },
    schedule: { type: 'cosine_min_lr', totalSteps: run.steps, warmupRatio: 0.1, minLrRatio: 0.1 },
    microBatchSize: 32, maxLength: 256,
  });
  const reference = sft ? [] : (await referenceLogProbs(model, pairs,
    { tokenization: 'world-bench', batchSize: 64 })).values;
  const rng = Rng.derive(42, run.name);
  const queue: number[] = [];
  let last: StepMetrics | undefined;
  const started = performance.now();
  for (let step = 0; step < run.steps; step++) {
    while (queue.length < 32) queue.push(...rng.shuffle(pairs.map((_, i) => i)));
    const batch = queue.splice(0, 32);
    last = sft
      ? await trainer.step({ examples: batch.map((i) => ({ prompt: pairs[i]!.prompt,
        response: pairs[i]!.chosen })) })
      : await trainer.step({ pairs: batch.map((i) => pairs[i]!),
        reference: batch.map((i) => reference[i]!) });
  }
  const seconds = (performance.now() - started) / 1000;
  const dir = path.join(world, '..', 'tune', run.name);
  await writeModelFolder(model, dir);

  const [now, before] = format
    ? [await measureSections(dir, evalNotes, { threads }), startNotes]
    : [await measureArith(dir, evalArith, { threads }), start];
  const diff = bootstrapMetric('diff', now.items.map((v, i) => ({ num: v - before.items[i]!,
    den: 1 })), { samples: 2000, seed: 0 });
  const row = {
    ...run, pairs: pairs.length, seconds: Number(seconds.toFixed(1)),
    start: before.metrics[format ? 'sections' : 'score']!.value,
    value: now.metrics[format ? 'sections' : 'score']!.value,
    diff: diff.value, diffLow: diff.ciLow, diffHigh: diff.ciHigh,
    ...(format ? { hitCap: now.metrics.hit_cap!.value } : {}),
    rewardAccuracy: sft ? null : last?.rewardsAccuracy, margin: sft ? null : last?.rewardsMargin,
  };
  console.log(JSON.stringify(row));
  if (args.out) appendFileSync(args.out, `${JSON.stringify(row)}\n`);
}
