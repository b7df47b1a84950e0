// The world's data sets, drawn from one seed: arithmetic prompts for evaluation, for pairing and
// for training (disjoint: evaluation is drawn first and excluded from the rest), the format
// prompts split into evaluation and training, and each rung's training mix with its planted
// format habit. Pure functions of the recipe and the seed; nothing here touches the disk.
import { drawArithSet, type ArithItem } from './arith.js';
import type { RungName, WorldRecipe } from './recipe.js';
import { Rng } from './rng.js';
import { sectionsReply, splitSectionPrompts } from './sections.js';
import type { TextExample } from './sft.js';

/** The prompts and worked solutions of every task, split by use. */
export interface WorldData {
  arith: { evaluation: ArithItem[]; pairs: ArithItem[]; train: ArithItem[] };
  sections: { evaluation: string[]; train: string[] };
}

/** Draws every data set of the world for `seed`. */
export function worldData(recipe: WorldRecipe, seed: number): WorldData {
  const a = recipe.arith;
  const seen = new Set<string>();
  const rng = Rng.derive(seed, 'arith');
  const evaluation = drawArithSet(rng, a, a.evalCount, seen);
  const pairs = drawArithSet(rng, a, a.pairCount, seen);
  const train = drawArithSet(rng, a, a.trainCount, seen);
  const split = splitSectionPrompts(Rng.derive(seed, 'sections'), recipe.sections.evalCount);
  return { arith: { evaluation, pairs, train }, sections: split };
}

/**
 * A rung's SFT examples: every arithmetic training item, plus format examples on the training
 * prompts making up `sections.share` of the whole, each with the rung's habit of sections.
 */
export function rungExamples(recipe: WorldRecipe, data: WorldData, rung: RungName, seed: number):
  TextExample[] {
  const habit = recipe.rungs[rung].sections;
  const share = recipe.sections.share;
  const count = Math.round((share / (1 - share)) * data.arith.train.length);
  const rng = Rng.derive(seed, `format:${rung}`);
  const format = Array.from({ length: count }, () => {
    const prompt = rng.pick(data.sections.train);
    return { prompt, response: sectionsReply(rng, prompt, rng.int(habit.min, habit.max)) };
  });
  const arith = data.arith.train.map((x) => ({ prompt: x.prompt, response: x.solution }));
  return [...arith, ...format];
}
