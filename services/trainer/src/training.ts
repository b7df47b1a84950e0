// One training run, start to end, as a recipe: claim the output folder, snapshot the pairs,
// tokenize them with the student's template, cache the reference log-probs (the student
// itself, before any step), then one visible loop of optimizer steps with checkpoints, and at
// the end the tuned model and its ONNX export. A run started again on the same folder resumes
// from its latest checkpoint. It reads no environment and serves no RPC: definition.ts does.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { toJson } from '@bufbuild/protobuf';
import { TrainingStatusSchema, type TrainingStatus } from '@delta/contracts';
import {
  EngineError, loadTrainerCheckpoint, saveTrainerCheckpoint, Trainer, type Model,
  type ScheduleType, type StepMetrics, type TrainerConfig,
} from '@delta/engine';
import { Code, RpcError } from '@delta/rpc';
import { DELTA_STEP, GEN_AI_REQUEST_MODEL, GEN_AI_SYSTEM, GEN_AI_USAGE_INPUT_TOKENS }
  from '@delta/telemetry';
import type { Attributes } from '@opentelemetry/api';
import { readSnapshot, StepPlan, writeSnapshot, type DataSnapshot } from './dataset.js';
import { toJobError } from './errors.js';
import { rewardFigures } from './evaluate.js';
import { exportModel } from './export-model.js';
import { cacheReference, loadModel, prepareData } from './inputs.js';
import { lengthNormalised, type TrainingSettings } from './presets.js';
import { RunDir, RunDirConflict, writeAtomic } from './run-dir.js';
import {
  figuresLine, fillStep, restoreLastMetrics, restoreSummary, stepLine,
} from './status.js';
import type { TrainerTelemetry } from './telemetry.js';

/** Everything a run needs, resolved and checked by the caller. */
export interface TrainingRun {
  /** The student's Hugging Face folder, resolved. */
  studentDir: string;
  /** The output folder, resolved. */
  outputDir: string;
  /** The output folder as the job named it; status paths are given under it. */
  outputName: string;
  settings: TrainingSettings;
  reversePairs: boolean;
  exportOnnx: boolean;
  /** Hash of everything that decides the result; a folder holds one run. */
  specHash: string;
  /** The spec as JSON, kept in spec.json for people. */
  specJson: unknown;
  threads: number;
  /** Where the engine computes; a CUDA build without a usable GPU fails the load. */
  device: 'cpu' | 'cuda';
  keepCheckpoints: number;
  /** Pairs per cache file of reference log-probs (and between cancellation checks). */
  referenceChunk: number;
  /** Most pairs an evaluation scores. */
  evalMaxPairs: number;
  /** Reads the pairs from the job's source; called only while the folder has no snapshot. */
  readSource(signal: AbortSignal): Promise<DataSnapshot>;
  /** The job's status: filled in as the run goes. */
  status: TrainingStatus;
  signal: AbortSignal;
  /** Publishes the status with progress in steps. */
  report(progress: { done?: number; total?: number; stage?: string }): void;
  telemetry?: TrainerTelemetry;
  /** Attributes on every metric and span (run and job ids). */
  attributes?: Attributes;
}

/** How a run ended without an error. */
export type TrainingOutcome = 'completed' | 'stopped';

const FINITE_PREFERENCE = ['loss', 'gradNorm', 'lr', 'rewardsChosen', 'rewardsRejected',
  'rewardsMargin', 'logpsChosen', 'logpsRejected'] as const;
const FINITE_SFT = ['loss', 'gradNorm', 'lr'] as const;

const SCHEDULES: Record<string, ScheduleType> = {
  linear: 'linear', cosine: 'cosine', cosine_min: 'cosine_min_lr', constant: 'constant',
};

/** The engine's trainer config for the settings and a run of `totalSteps` steps. */
export function trainerConfig(s: TrainingSettings, totalSteps: number): TrainerConfig {
  return {
    loss: {
      type: s.loss as TrainerConfig['loss']['type'],
      beta: s.beta,
      labelSmoothing: s.labelSmoothing,
      simpoGamma: s.simpoGamma,
      nllAlpha: s.nllWeight,
    },
    optimizer: {
      lr: s.learningRate,
      betas: [s.adamBeta1, s.adamBeta2],
      eps: s.adamEps,
      weightDecay: s.weightDecay,
      maxGradNorm: s.maxGradNorm,
    },
    schedule: {
      type: SCHEDULES[s.schedule]!,
      totalSteps,
      warmupRatio: s.warmupRatio,
      minLrRatio: s.minLrRatio,
    },
    microBatchSize: s.microBatchSize,
    maxLength: s.maxLength,
  };
}

/** Runs (or resumes, or finds complete) the training run. */
export async function train(run: TrainingRun): Promise<TrainingOutcome> {
  const dir = new RunDir(run.outputDir);
  const shown = (file: string) => path.join(run.outputName, path.relative(run.outputDir, file));
  const status = run.status;
  const attributes = run.attributes ?? {};
  const tracer = run.telemetry?.tracer;
  const span = <T>(name: string, work: () => Promise<T>, attrs: Attributes = {}): Promise<T> =>
    tracer
      ? tracer.startActiveSpan(name, { attributes: { ...attributes, ...attrs } }, async (s) => {
        try { return await work(); } finally { s.end(); }
      })
      : work();

  try {
    await dir.claim(run.specHash, run.specJson);
  } catch (err) {
    if (err instanceof RunDirConflict) throw new RpcError(Code.FAILED_PRECONDITION, err.message);
    throw err;
  }
  status.metricsFile = shown(dir.metricsFile);
  if (existsSync(dir.summaryFile) && existsSync(dir.modelDir)) {
    await restoreSummary(dir, status, shown);
    run.report({ done: status.step, total: status.totalSteps, stage: 'already complete' });
    return 'completed';
  }

  // 1. The pairs: the snapshot of an earlier start, or the source read once now.
  run.report({ stage: 'reading pairs' });
  let snapshot = await readSnapshot(dir.dataDir);
  if (!snapshot) {
    snapshot = await span('read pairs', () => run.readSource(run.signal));
    if (run.signal.aborted) return 'stopped';
    await writeSnapshot(dir.dataDir, snapshot);
  }

  // 2. Token ids, with the student's template; unusable pairs are dropped and counted.
  run.report({ stage: 'tokenizing' });
  const data = prepareData(run, snapshot);
  status.dropped = Object.fromEntries([...data.dropped].map(([k, v]) => [k, BigInt(v)]));
  status.rejected = data.rejected.slice(0, 100);
  status.pairsUsed = BigInt(data.train.length);
  for (const [reason, n] of data.dropped) run.telemetry?.drop(reason, n, attributes);
  if (data.train.length === 0) {
    const why = [...data.dropped].map(([k, v]) => `${k} ${v}`).join(', ') || 'the source is empty';
    throw new RpcError(Code.FAILED_PRECONDITION,
      `no usable pairs to train on (${why}); see ${shown(path.join(dir.dataDir, 'source.json'))}`);
  }

  // 3. Reference log-probs of the student as it is now, cached in chunks before any step.
  let student: Model | undefined = await loadModel(run.studentDir, run.threads, run.device);
  const everyPair = [...data.train, ...data.held];
  const reference = await span('reference log-probs',
    () => cacheReference(run, dir, student!, everyPair, data.tokenizerIdentity),
    { pairs: everyPair.length });
  if (!reference) return 'stopped';
  const trainRef = reference.values.slice(0, data.train.length);
  const evalSet = data.held.length > 0
    ? { pairs: data.held, reference: reference.values.slice(data.train.length) }
    : { pairs: data.train, reference: trainRef };
  const evalPairs = evalSet.pairs.slice(0, run.evalMaxPairs);
  const evalRef = evalSet.reference.slice(0, run.evalMaxPairs);

  // 4. The trainer: from the latest checkpoint, or fresh on the student.
  const s = run.settings;
  const plan = new StepPlan(data.train.length, s.batchSize, s.epochs, s.maxSteps, s.seed);
  status.totalSteps = plan.totalSteps;
  let trainer: Trainer;
  let done = 0;
  const latest = await dir.latest();
  if (latest) {
    run.report({ stage: `resuming from ${latest.name}` });
    const resumed = await loadTrainerCheckpoint(latest.dir, { threads: run.threads })
      .catch((err: unknown) => { throw toJobError(err, `loading ${shown(latest.dir)}`); });
    const position = resumed.extra as { specHash?: string; step?: number } | null;
    if (position?.specHash !== run.specHash || position.step !== latest.step) {
      throw new RpcError(Code.FAILED_PRECONDITION, `${shown(latest.dir)} was not written by this ` +
        'run; delete the output folder to start over');
    }
    trainer = resumed.trainer;
    done = latest.step;
    await dir.event('resume', { step: done, checkpoint: latest.name });
    status.checkpointDir = shown(latest.dir);
  } else {
    trainer = new Trainer(student!, trainerConfig(s, plan.totalSteps));
    await dir.event('start', { steps: plan.totalSteps, pairs: data.train.length });
  }
  student = undefined; // a resumed trainer holds its own copy of the weights
  await dir.truncateMetrics(done);
  await restoreLastMetrics(dir, status);
  const sft = s.loss === 'sft';
  const figures = {
    beta: s.beta, lengthNormalised: lengthNormalised(s.loss),
    batchSize: Math.max(1, s.microBatchSize) * 2, maxLength: s.maxLength,
  };
  let saved = done;

  const evaluate = async (step: number) => {
    run.report({ done: step, stage: `evaluating step ${step}` });
    const result = await rewardFigures(trainer.model, evalPairs, evalRef, figures)
      .catch((err: unknown) => { throw toJobError(err, `evaluating step ${step}`); });
    const bad = (['accuracy', 'margin', 'chosen', 'rejected'] as const)
      .find((k) => !Number.isFinite(result[k]));
    if (bad) {
      throw new RpcError(Code.INTERNAL, `step ${step}: the evaluation's reward ${bad} is ` +
        `${result[bad]}; training stopped and ${keptCheckpoint(saved, shown, dir)}`);
    }
    status.evalRewardAccuracy = result.accuracy;
    status.evalRewardMargin = result.margin;
    status.evalStep = step;
    run.telemetry?.evaluation(result, attributes);
    await dir.appendMetrics({ step, split: data.held.length > 0 ? 'eval' : 'train',
      ...figuresLine(result) });
  };

  // A checkpoint becomes `latest` only after the evaluation at its step found finite figures.
  const checkpoint = async (step: number, withEvaluation: boolean) => {
    run.report({ done: step, stage: `checkpointing step ${step}` });
    const target = dir.checkpointDir(step);
    await span('checkpoint', () => saveTrainerCheckpoint(trainer, target, {
      format: 'delta-trainer-position/1', specHash: run.specHash, step,
      epoch: plan.epochOf(Math.max(1, step)), nextStep: step + 1,
    }), { [DELTA_STEP]: step }).catch((err: unknown) => {
      throw toJobError(err, `saving ${shown(target)}`);
    });
    if (withEvaluation) await evaluate(step);
    await dir.setLatest(step, run.keepCheckpoints);
    status.checkpointDir = shown(target);
    saved = step;
  };

  // 5. The loop: one optimizer step per batch, checkpoints every N steps.
  const startedAt = Date.now();
  for (let step = done + 1; step <= plan.totalSteps; step++) {
    if (run.signal.aborted) break;
    const batch = plan.batch(step).map((i) => ({ pair: data.train[i]!, ref: trainRef[i]! }));
    const metrics = await span('train step', () => trainer.step(sft
      ? { examples: batch.map((b) => ({ prompt: b.pair.prompt, response: b.pair.chosen })) }
      : { pairs: batch.map((b) => b.pair), reference: batch.map((b) => b.ref) }),
    { [DELTA_STEP]: step, [GEN_AI_SYSTEM]: 'delta-engine',
      [GEN_AI_REQUEST_MODEL]: path.basename(run.studentDir),
      [GEN_AI_USAGE_INPUT_TOKENS]: batch.reduce((a, { pair: p }) =>
        a + 2 * p.prompt.length + p.chosen.length + p.rejected.length, 0) })
      .catch((err: unknown) => { throw diverged(err, step, saved, shown, dir); });
    checkFinite(metrics, sft ? FINITE_SFT : FINITE_PREFERENCE, step, saved, shown, dir);

    const pace = (Date.now() - startedAt) / 1000 / (step - done);
    const eta = pace * (plan.totalSteps - step);
    fillStep(status, metrics, step, plan.epochOf(step), eta);
    run.telemetry?.step(metrics, eta, attributes);
    await dir.appendMetrics(stepLine(metrics, step, plan.epochOf(step)));
    run.report({ done: step, total: plan.totalSteps, stage: 'training' });

    if (s.checkpointEvery > 0 && step % s.checkpointEvery === 0 && step < plan.totalSteps) {
      await checkpoint(step, true);
    }
  }

  // Stopped (cancel or shutdown): leave a checkpoint at the last finished step.
  const last = status.step > done ? status.step : done;
  if (run.signal.aborted && last < plan.totalSteps) {
    if (saved < last) await checkpoint(last, false);
    await dir.event('stop', { step: last });
    run.report({ done: last, stage: `stopped at step ${last}; ${status.checkpointDir} kept` });
    return 'stopped';
  }

  // 6. The end: a last checkpoint, the final evaluation, the tuned model and its export.
  if (saved < plan.totalSteps) await checkpoint(plan.totalSteps, true);
  else if (status.evalStep !== plan.totalSteps) await evaluate(plan.totalSteps);
  run.report({ done: plan.totalSteps, stage: 'exporting the tuned model' });
  const exported = await span('export', () => exportModel(trainer.model, run.studentDir,
    dir.modelDir, { onnx: run.exportOnnx })).catch((err: unknown) => {
    throw toJobError(err, `exporting the tuned model to ${shown(dir.modelDir)}`);
  });
  status.modelDir = shown(exported.modelDir);
  status.onnxPath = exported.onnxPath ? shown(exported.onnxPath) : '';
  await writeAtomic(dir.summaryFile, `${JSON.stringify({
    format: 'delta-trainer-summary/1',
    specHash: run.specHash,
    referenceKeys: reference.keys,
    referenceCached: reference.cached,
    status: toJson(TrainingStatusSchema, status),
  }, null, 2)}\n`);
  await dir.event('end', { step: plan.totalSteps });
  run.report({ done: plan.totalSteps, total: plan.totalSteps, stage: 'done' });
  return 'completed';
}

/** Which checkpoint a failed run leaves, in words. */
function keptCheckpoint(saved: number, shown: (file: string) => string, dir: RunDir): string {
  return saved > 0 ? `the last good checkpoint is ${shown(dir.checkpointDir(saved))}`
    : 'no checkpoint was written before it';
}

/** A failed step as the job's error: the step, what went wrong, the checkpoint kept. */
function diverged(
  err: unknown,
  step: number,
  saved: number,
  shown: (file: string) => string,
  dir: RunDir,
): RpcError {
  const kept = keptCheckpoint(saved, shown, dir);
  if (err instanceof EngineError && err.code === 'INTERNAL') {
    return new RpcError(Code.INTERNAL, `step ${step}: ${err.message}; training stopped and ` +
      `${kept}`, err);
  }
  return toJobError(err, `step ${step} (${kept})`);
}

/** Stops the run when a step's loss or a metric is NaN or infinite. */
function checkFinite(
  metrics: StepMetrics,
  names: readonly (keyof StepMetrics)[],
  step: number,
  saved: number,
  shown: (file: string) => string,
  dir: RunDir,
): void {
  const bad = names.find((n) => !Number.isFinite(metrics[n]));
  if (bad === undefined) return;
  const kept = keptCheckpoint(saved, shown, dir);
  throw new RpcError(Code.INTERNAL, `step ${step}: ${bad} is ${metrics[bad]}; training stopped ` +
    `and ${kept} (lower the learning rate or beta, or check the data)`);
}
