// @delta/world: the built-in world of the demo - seeded generators of a graded arithmetic task
// and a format task, a character-level tokenizer, and a ladder of small Llamas trained on the
// engine, exported for the services, checked and cached. Evaluation tasks live in @delta/evals.
export { WorldError, type WorldErrorCode } from './errors.js';
export {
  BOS, BOS_ID, CHARACTERS, CHAT_TEMPLATE, decode, encode, EOS, EOS_ID, PAD, PAD_ID,
  tokenizerConfig, tokenizerJson, VOCAB_SIZE,
} from './tokenizer.js';
export { Rng } from './rng.js';
export { arithPrompt, drawArith, drawArithSet, type ArithItem, type ArithShape } from './arith.js';
export { SECTION_PROMPTS, sectionsReply, splitSectionPrompts } from './sections.js';
export {
  batchOrder, CONTEXT_LENGTH, initRung, rungConfig, tokenizeExample, trainSft,
  type RungShape, type SftProgress, type SftSettings, type TextExample,
} from './sft.js';
export { writeModelFolder, writeTokenizerFiles } from './model-folder.js';
export { measureArith, measureSections, type MeasureOptions, type TaskFigures } from './evaluate.js';
export {
  checkRecipe, DEFAULT_RECIPE, recipeKey, RUNG_NAMES,
  type RungName, type RungRecipe, type WorldRecipe,
} from './recipe.js';
export { rungExamples, worldData, type WorldData } from './data.js';
export {
  buildLadder, checkLadder,
  type LadderCheck, type LadderOptions, type RungFigures, type WorldProgress,
} from './ladder.js';
export { buildWorld, engineVersion, type BuildWorldOptions, type WorldOutput } from './world.js';
