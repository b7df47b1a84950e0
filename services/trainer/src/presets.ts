// Named hyperparameter presets and how a job's TrainingConfig overrides them field by field.
// The result, TrainingSettings, is the one typed record the rest of the trainer reads; checking
// the values against limits is the definition's job (definition.ts), not this file's.
import type { TrainingConfig } from '@delta/contracts';

/** Every hyperparameter of a training job, with no field left unset. */
export interface TrainingSettings {
  /** "sft", "sigmoid", "dpo_norm", "robust", "ipo", "hinge" or "simpo". */
  loss: string;
  beta: number;
  labelSmoothing: number;
  /** Weight of an added NLL term on the chosen responses. */
  nllWeight: number;
  simpoGamma: number;
  learningRate: number;
  /** "linear", "cosine", "cosine_min" or "constant". */
  schedule: string;
  minLrRatio: number;
  warmupRatio: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  maxGradNorm: number;
  epochs: number;
  /** Pairs per optimizer step. */
  batchSize: number;
  /** Pairs per forward/backward; a step accumulates ceil(batchSize / microBatchSize) of them. */
  microBatchSize: number;
  /** Tokens per sequence (prompt + response). */
  maxLength: number;
  seed: bigint;
  /** Optimizer steps between checkpoints; 0 checkpoints only at the end (and on cancel). */
  checkpointEvery: number;
  /** Upper bound on optimizer steps; 0 means the whole data set for the given epochs. */
  maxSteps: number;
  /** Share of the pairs held out for evaluation; 0 evaluates on the training pairs. */
  evalFraction: number;
}

/**
 * The paper's main run: length-normalised DPO, beta 5, lr 5e-8, cosine to 0.1 x lr, 3% warmup,
 * no weight decay, 32 pairs per step, one epoch, 2048 tokens.
 */
const paper: TrainingSettings = {
  loss: 'dpo_norm',
  beta: 5,
  labelSmoothing: 0,
  nllWeight: 0,
  simpoGamma: 0,
  learningRate: 5e-8,
  schedule: 'cosine_min',
  minLrRatio: 0.1,
  warmupRatio: 0.03,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  maxGradNorm: 1,
  epochs: 1,
  batchSize: 32,
  microBatchSize: 2,
  maxLength: 2048,
  seed: 42n,
  checkpointEvery: 200,
  maxSteps: 0,
  evalFraction: 0,
};

/**
 * For the small models of the examples: the paper's loss and beta with a learning rate that
 * moves a model of a few million parameters in tens of steps, small batches, short sequences,
 * and a tenth of the pairs held out to measure reward accuracy on.
 */
const tiny: TrainingSettings = {
  ...paper,
  learningRate: 1e-3,
  warmupRatio: 0.1,
  epochs: 3,
  batchSize: 8,
  microBatchSize: 8,
  maxLength: 256,
  checkpointEvery: 20,
  evalFraction: 0.1,
};

/** The presets by name; `paper` is used when a job names none. */
export const PRESETS: Readonly<Record<string, Readonly<TrainingSettings>>> = { paper, tiny };

/** The preset a job gets when TrainingSpec.preset is empty. */
export const DEFAULT_PRESET = 'paper';

/** The losses a job may name (the engine's DPO family plus SFT on the chosen side). */
export const LOSSES = ['sft', 'sigmoid', 'dpo_norm', 'robust', 'ipo', 'hinge', 'simpo'] as const;

/** The learning-rate schedules a job may name. */
export const SCHEDULES = ['linear', 'cosine', 'cosine_min', 'constant'] as const;

/** Whether a loss scores a response by its mean per-token log-prob rather than the sum. */
export function lengthNormalised(loss: string): boolean {
  return loss === 'dpo_norm' || loss === 'ipo' || loss === 'simpo';
}

/** The preset's values with every field the config sets put on top. */
export function resolveSettings(preset: string, config: TrainingConfig | undefined):
  TrainingSettings {
  const base = PRESETS[preset || DEFAULT_PRESET];
  if (!base) throw new Error(`unknown preset "${preset}"`);
  const c = config ?? ({} as Partial<TrainingConfig>);
  return {
    loss: c.loss ?? base.loss,
    beta: c.beta ?? base.beta,
    labelSmoothing: c.labelSmoothing ?? base.labelSmoothing,
    nllWeight: c.nllWeight ?? base.nllWeight,
    simpoGamma: c.simpoGamma ?? base.simpoGamma,
    learningRate: c.learningRate ?? base.learningRate,
    schedule: c.schedule ?? base.schedule,
    minLrRatio: c.minLrRatio ?? base.minLrRatio,
    warmupRatio: c.warmupRatio ?? base.warmupRatio,
    weightDecay: c.weightDecay ?? base.weightDecay,
    adamBeta1: c.adamBeta1 ?? base.adamBeta1,
    adamBeta2: c.adamBeta2 ?? base.adamBeta2,
    adamEps: c.adamEps ?? base.adamEps,
    maxGradNorm: c.maxGradNorm ?? base.maxGradNorm,
    epochs: c.epochs ?? base.epochs,
    batchSize: c.batchSize ?? base.batchSize,
    microBatchSize: c.microBatchSize ?? Math.min(base.microBatchSize, c.batchSize ?? Infinity),
    maxLength: c.maxLength ?? base.maxLength,
    seed: c.seed ?? base.seed,
    checkpointEvery: c.checkpointEvery ?? base.checkpointEvery,
    maxSteps: c.maxSteps ?? base.maxSteps,
    evalFraction: c.evalFraction ?? base.evalFraction,
  };
}

/** Writes every setting back into a config, so a job's stored spec shows what it ran with. */
export function fillConfig(config: TrainingConfig, s: TrainingSettings): void {
  config.loss = s.loss;
  config.beta = s.beta;
  config.labelSmoothing = s.labelSmoothing;
  config.nllWeight = s.nllWeight;
  config.simpoGamma = s.simpoGamma;
  config.learningRate = s.learningRate;
  config.schedule = s.schedule;
  config.minLrRatio = s.minLrRatio;
  config.warmupRatio = s.warmupRatio;
  config.weightDecay = s.weightDecay;
  config.adamBeta1 = s.adamBeta1;
  config.adamBeta2 = s.adamBeta2;
  config.adamEps = s.adamEps;
  config.maxGradNorm = s.maxGradNorm;
  config.epochs = s.epochs;
  config.batchSize = s.batchSize;
  config.microBatchSize = s.microBatchSize;
  config.maxLength = s.maxLength;
  config.seed = s.seed;
  config.checkpointEvery = s.checkpointEvery;
  config.maxSteps = s.maxSteps;
  config.evalFraction = s.evalFraction;
}
