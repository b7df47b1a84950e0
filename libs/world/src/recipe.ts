// The ladder's recipe as a typed, committed record: the task shapes and set sizes, each rung's
// model size, training budget, learning-rate schedule, seed offset and planted format habit,
// and the bar the built ladder is checked against. Changing any value changes the cache key.
import { createHash } from 'node:crypto';
import type { ArithShape } from './arith.js';
import { WorldError } from './errors.js';
import type { RungShape, SftSettings } from './sft.js';

/** One model of the ladder. */
export interface RungRecipe {
  shape: RungShape;
  sft: SftSettings;
  /** Added to the world's seed for this rung's initial weights and batch order. */
  seedOffset: number;
  /**
   * The planted format habit: every format example in this rung's training data has a
   * section count drawn uniformly from [min, max].
   */
  sections: { min: number; max: number };
}

/** Everything the world is built from. */
export interface WorldRecipe {
  /** Bumped when the meaning of a field changes, so old caches are not reused. */
  format: number;
  arith: ArithShape & {
    /** Held-out prompts every model is evaluated on. */
    evalCount: number;
    /** Prompts the teachers answer to make pairs. */
    pairCount: number;
    /** Prompts with worked solutions the rungs are trained on. */
    trainCount: number;
  };
  sections: {
    /** Of the 120 prompts, this many are held out for evaluation; the rest train and pair. */
    evalCount: number;
    /** Share of each rung's training examples that are format examples. */
    share: number;
  };
  /** The rungs from the weakest up; the last one is the student. */
  rungs: Record<RungName, RungRecipe>;
}

/** The ladder's rungs, weakest first. */
export const RUNG_NAMES = ['weak', 'strong', 'student'] as const;

/** A rung's name. */
export type RungName = (typeof RUNG_NAMES)[number];

const sft = (steps: number, lr: number, minLrRatio: number): SftSettings => ({
  steps, batchSize: 64, lr, warmupSteps: 30, minLrRatio, betas: [0.9, 0.95], maxGradNorm: 1,
  bucketWindow: 16,
});

/**
 * The built-in recipe. Sizes grow 32 -> 48 -> 64 wide (2 layers, 4 heads each) and so do the
 * budgets; each rung's learning rate decays by cosine to a tenth of its peak, so every rung is
 * a finished (annealed) model rather than a snapshot in mid-training.
 */
export const DEFAULT_RECIPE: WorldRecipe = {
  format: 1,
  arith: { minOperands: 3, maxOperands: 6, maxOperand: 9, evalCount: 500, pairCount: 1024,
    trainCount: 20_000 },
  sections: { evalCount: 40, share: 0.15 },
  rungs: {
    weak: {
      shape: { hiddenSize: 32, numLayers: 2, intermediateSize: 88, numHeads: 4 },
      sft: sft(600, 3e-3, 0.1), seedOffset: 101, sections: { min: 2, max: 2 },
    },
    strong: {
      shape: { hiddenSize: 48, numLayers: 2, intermediateSize: 128, numHeads: 4 },
      sft: sft(900, 3e-3, 0.1), seedOffset: 202, sections: { min: 3, max: 3 },
    },
    student: {
      shape: { hiddenSize: 64, numLayers: 2, intermediateSize: 176, numHeads: 4 },
      sft: sft(1150, 3e-3, 0.1), seedOffset: 303, sections: { min: 2, max: 6 },
    },
  },
};

/** Rejects a recipe that cannot build, naming the field. */
export function checkRecipe(r: WorldRecipe): void {
  const fail = (field: string, why: string) => {
    throw new WorldError('INVALID_RECIPE', `recipe.${field} ${why}`);
  };
  const a = r.arith;
  if (a.minOperands < 2 || a.maxOperands < a.minOperands) {
    fail('arith', 'needs 2 <= minOperands <= maxOperands');
  }
  if (a.maxOperand < 1 || a.maxOperand > 9) fail('arith.maxOperand', 'must be 1..9 (one digit)');
  if (r.sections.evalCount < 1 || r.sections.evalCount >= 120) {
    fail('sections.evalCount', 'must leave some of the 120 prompts for training');
  }
  if (r.sections.share < 0 || r.sections.share >= 1) fail('sections.share', 'must be in [0, 1)');
  for (const name of RUNG_NAMES) {
    const rung = r.rungs[name];
    if (rung.shape.hiddenSize % rung.shape.numHeads !== 0) {
      fail(`rungs.${name}.shape`, 'needs hiddenSize divisible by numHeads');
    }
    if (rung.sft.steps < 1 || rung.sft.lr <= 0) fail(`rungs.${name}.sft`, 'needs steps and lr > 0');
    if (rung.sft.warmupSteps < 0 || rung.sft.warmupSteps > rung.sft.steps) {
      fail(`rungs.${name}.sft.warmupSteps`, `must be in [0, steps = ${rung.sft.steps}]`);
    }
    if (rung.sections.min < 1 || rung.sections.max < rung.sections.min) {
      fail(`rungs.${name}.sections`, 'needs 1 <= min <= max');
    }
  }
}

/** SHA-256 of the recipe, the seed and the engine version: the ladder's cache key. */
export function recipeKey(r: WorldRecipe, seed: number, engineVersion: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ recipe: r, seed, engineVersion }))
    .digest('hex');
}
