// Generates the format task: 120 note prompts ("notes on a red cat:") and replies made of a
// chosen number of "##" sections ("## cat runs."). The number is the habit a model is taught;
// the world plants it in each rung's training data, as the paper planted it by prompting.
import type { Rng } from './rng.js';

const ADJECTIVES = ['red', 'big', 'old', 'shy', 'wet', 'odd', 'sad', 'fat', 'tiny', 'calm',
  'wild', 'cold'];
const NOUNS = ['cat', 'dog', 'fox', 'owl', 'bee', 'cow', 'pig', 'hen', 'ant', 'elk'];
const VERBS = ['runs', 'eats', 'sees', 'hides', 'jumps', 'sleeps', 'sings', 'digs'];

/** All 120 prompts, adjective-major. */
export const SECTION_PROMPTS: readonly string[] =
  ADJECTIVES.flatMap((a) => NOUNS.map((n) => `notes on a ${a} ${n}:`));

/** A reply with `count` sections about the prompt's noun, one random verb each. */
export function sectionsReply(rng: Rng, prompt: string, count: number): string {
  const noun = prompt.slice(0, -1).split(' ').at(-1)!;
  return Array.from({ length: count }, () => `## ${noun} ${rng.pick(VERBS)}.`).join('\n');
}

/** The prompts split in two at random: `evalCount` for evaluation, the rest for training. */
export function splitSectionPrompts(rng: Rng, evalCount: number): {
  evaluation: string[];
  train: string[];
} {
  const shuffled = rng.shuffle(SECTION_PROMPTS);
  return { evaluation: shuffled.slice(0, evalCount), train: shuffled.slice(evalCount) };
}
