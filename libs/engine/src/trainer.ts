// The training loop's single step, typed: a Trainer binds a Model to a loss, AdamW and a
// learning-rate schedule, splits each batch into micro-batches, and reports the step's
// metrics. Gradient accumulation is exact: the loss is normalised by the whole batch.
import { EngineError, toEngineError } from './errors.js';
import {
  packSequences,
  pairSides,
  scoredTokens,
  type PaddingOptions,
  type PreferencePair,
  type ScoredSequence,
} from './batch.js';
import type { Model } from './model.js';
import { native, type NativeBatch, type NativeStepMetrics, type NativeTrainer } from './native.js';

/** Losses: SFT token NLL and the DPO family (see native/core/loss.h for the formulas). */
export type LossType = 'sft' | 'sigmoid' | 'dpo_norm' | 'robust' | 'ipo' | 'hinge' | 'simpo';

/** Learning-rate decay after linear warmup. */
export type ScheduleType = 'constant' | 'linear' | 'cosine' | 'cosine_min_lr';

/** Everything a Trainer needs; unset fields take the defaults documented on each. */
export interface TrainerConfig {
  loss: {
    type: LossType;
    /** Strength of the preference (default 0.1). */
    beta?: number;
    /** Probability that a label is flipped: conservative (sigmoid, dpo_norm) or robust DPO. */
    labelSmoothing?: number;
    /** SimPO's target margin (default 0). */
    simpoGamma?: number;
    /** Weight of an added token-mean NLL on the chosen responses (default 0). */
    nllAlpha?: number;
  };
  optimizer: {
    lr: number;
    betas?: [number, number]; // default [0.9, 0.999]
    eps?: number; // default 1e-8
    weightDecay?: number; // default 0; never applied to norms and biases
    maxGradNorm?: number; // default 1; 0 turns clipping off
  };
  schedule: {
    type?: ScheduleType; // default cosine
    totalSteps: number;
    warmupSteps?: number;
    /** Warmup as a fraction of totalSteps (used when warmupSteps is unset). */
    warmupRatio?: number;
    minLrRatio?: number; // cosine_min_lr: final lr = minLrRatio * lr
  };
  /** Pairs (preference losses) or examples (SFT) per micro-batch. */
  microBatchSize: number;
  /** The longest prompt + response, in tokens, a micro-batch may hold. */
  maxLength: number;
  /** Padding inside micro-batches (default right, id 0); it never changes a result. */
  padding?: Partial<PaddingOptions>;
  /** Memory for one chunk of lm-head logits (default 256 MiB); larger chunks avoid recomputing. */
  logitsBudgetMiB?: number;
  /**
   * Recompute each block's activations during the backward instead of keeping them: one
   * block's activations in memory instead of all of them, for about one more forward pass.
   * Results are unchanged (default false).
   */
  recompute?: boolean;
}

/** The delta-learning paper's recipe: length-normalised DPO, beta 5, lr 5e-8, cosine to 0.1 lr. */
export function paperRecipe(
  totalSteps: number,
  microBatchSize: number,
  maxLength: number,
): TrainerConfig {
  return {
    loss: { type: 'dpo_norm', beta: 5 },
    optimizer: { lr: 5e-8, weightDecay: 0 },
    schedule: { type: 'cosine_min_lr', totalSteps, warmupRatio: 0.03, minLrRatio: 0.1 },
    microBatchSize,
    maxLength,
  };
}

/** Reference-model log-probs of one pair: summed over the response tokens, and their counts. */
export interface ReferenceLogProb {
  chosen: number;
  rejected: number;
  chosenTokens: number;
  rejectedTokens: number;
}

/** A preference batch: pairs and, for losses that need them, their reference log-probs. */
export interface PreferenceBatch {
  pairs: readonly PreferencePair[];
  reference?: readonly ReferenceLogProb[];
}

/** An SFT batch: each response is trained on given its prompt. */
export interface SftBatch {
  examples: readonly ScoredSequence[];
}

/**
 * Metrics of one optimizer step, averaged over the batch's pairs (never summed over
 * micro-batches). Rewards and log-probs use the loss's reduction (sums, or means for
 * dpo_norm, ipo and simpo). For SFT only loss, gradNorm, lr and the counts are meaningful.
 */
export type StepMetrics = NativeStepMetrics;

/** Binds a model to a loss and an optimizer; owns gradients and AdamW moments. */
export class Trainer {
  readonly model: Model;
  readonly config: TrainerConfig;
  /** @internal */ readonly handle: NativeTrainer;
  private readonly preference: boolean;
  private readonly padding: PaddingOptions;

  constructor(model: Model, config: TrainerConfig) {
    this.model = model;
    this.config = config;
    this.preference = config.loss.type !== 'sft';
    this.padding = {
      padSide: config.padding?.padSide ?? 'right',
      padId: config.padding?.padId ?? 0,
    };
    const s = config.schedule;
    const warmup = s.warmupSteps ?? Math.round((s.warmupRatio ?? 0) * s.totalSteps);
    if (!Number.isInteger(config.microBatchSize) || config.microBatchSize < 1) {
      throw new EngineError('INVALID_CONFIG', 'microBatchSize must be a positive integer');
    }
    const nativeConfig = {
      loss: {
        type: config.loss.type,
        beta: config.loss.beta ?? 0.1,
        labelSmoothing: config.loss.labelSmoothing ?? 0,
        simpoGamma: config.loss.simpoGamma ?? 0,
        nllAlpha: config.loss.nllAlpha ?? 0,
      },
      optimizer: {
        lr: config.optimizer.lr,
        beta1: config.optimizer.betas?.[0] ?? 0.9,
        beta2: config.optimizer.betas?.[1] ?? 0.999,
        eps: config.optimizer.eps ?? 1e-8,
        weightDecay: config.optimizer.weightDecay ?? 0,
        maxGradNorm: config.optimizer.maxGradNorm ?? 1,
      },
      schedule: {
        type: s.type ?? 'cosine',
        warmupSteps: warmup,
        totalSteps: s.totalSteps,
        minLrRatio: s.minLrRatio ?? 0,
      },
      maxMicroSequences: config.microBatchSize * (this.preference ? 2 : 1),
      maxLength: config.maxLength,
      logitsBudgetElements: Math.floor(((config.logitsBudgetMiB ?? 256) * 2 ** 20) / 4),
      recompute: config.recompute ?? false,
    };
    try {
      this.handle = new (native().NativeTrainer)(model.handle, nativeConfig);
    } catch (err) {
      throw toEngineError(err, 'creating the trainer');
    }
  }

  /** Optimizer steps taken so far (the schedule's position). */
  get stepsDone(): number {
    return this.handle.stepsDone();
  }

  /** Bytes of the trainer's arena: gradients, AdamW moments and activations. */
  get arenaBytes(): number {
    return this.handle.arenaBytes();
  }

  /** One optimizer step on the batch: forward, loss, backward, clip, AdamW. */
  step(batch: PreferenceBatch | SftBatch): Promise<StepMetrics> {
    return this.run(batch, true);
  }

  /** The step's loss, metrics and gradients (readGradient) without updating any weight. */
  computeGradients(batch: PreferenceBatch | SftBatch): Promise<StepMetrics> {
    return this.run(batch, false);
  }

  /** The gradient of one parameter from the last step or computeGradients call. */
  readGradient(name: string): Float32Array {
    const p = this.model.parameters().find((t) => t.name === name);
    if (!p) throw new EngineError('INVALID_ARGUMENT', `the model has no parameter "${name}"`);
    const out = new Float32Array(p.size);
    this.handle.readState('grad', name, out);
    return out;
  }

  private async run(batch: PreferenceBatch | SftBatch, apply: boolean): Promise<StepMetrics> {
    const { micro, ref, refCounts } = this.pack(batch);
    try {
      return await this.handle.step(micro, ref, refCounts, apply);
    } catch (err) {
      throw toEngineError(err, 'training step');
    }
  }

  private pack(batch: PreferenceBatch | SftBatch) {
    const { microBatchSize: size, maxLength } = this.config;
    const V = this.model.config.vocabSize;
    const micro: NativeBatch[] = [];
    if (!this.preference) {
      if (!('examples' in batch)) {
        throw new EngineError('INVALID_ARGUMENT', 'the sft loss takes { examples }');
      }
      for (let i = 0; i < batch.examples.length; i += size) {
        const chunk = batch.examples.slice(i, i + size);
        micro.push(packSequences(chunk, V, this.padding, maxLength, (k) => `example ${i + k}`));
      }
      return { micro, ref: null, refCounts: null };
    }

    if (!('pairs' in batch)) {
      const loss = this.config.loss.type;
      throw new EngineError('INVALID_ARGUMENT', `the ${loss} loss takes { pairs }`);
    }
    const pairs = batch.pairs;
    if (pairs.length === 0) throw new EngineError('INVALID_ARGUMENT', 'the batch has no pairs');
    pairs.forEach((p, i) => {
      const sides = pairSides(p);
      for (const [k, side] of (['chosen', 'rejected'] as const).entries()) {
        if (scoredTokens(sides[k]!) === 0) {
          throw new EngineError(
            'INVALID_ARGUMENT',
            `pair ${i}: the ${side} response is empty (truncated away?); an empty response has ` +
              `no log-prob and would make a length-normalised loss 0/0`,
          );
        }
      }
    });
    for (let i = 0; i < pairs.length; i += size) {
      const chunk = pairs.slice(i, i + size);
      const seqs = chunk.flatMap(pairSides);
      micro.push(packSequences(seqs, V, this.padding, maxLength,
        (k) => `pair ${i + (k >> 1)}, ${k % 2 === 0 ? 'chosen' : 'rejected'}`));
    }

    const needsRef = this.config.loss.type !== 'simpo';
    if (!needsRef) return { micro, ref: null, refCounts: null };
    const r = batch.reference;
    if (!r || r.length !== pairs.length) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `the ${this.config.loss.type} loss needs reference log-probs for each of the ` +
          `${pairs.length} pairs (got ${r?.length ?? 0}); compute them with referenceLogProbs`,
      );
    }
    const ref = new Float64Array(2 * pairs.length);
    const refCounts = new Int32Array(2 * pairs.length);
    r.forEach((x, i) => {
      ref[2 * i] = x.chosen;
      ref[2 * i + 1] = x.rejected;
      refCounts[2 * i] = x.chosenTokens;
      refCounts[2 * i + 1] = x.rejectedTokens;
    });
    return { micro, ref, refCounts };
  }
}
