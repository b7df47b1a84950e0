// Benchmark tasks and scorers for Delta: GSM8K, MATH-style answers, IFEval, multiple choice by
// log-likelihood; runners against any model with the interfaces in model.ts; offline scoring
// of given responses; bootstrap confidence intervals and a comparison table across models.
import './tasks/builtin.js';
import './tasks/arith.js';
import './tasks/sections.js';

export { EvalError, type EvalErrorCode, type ErrorLocation } from './errors.js';
export type * from './model.js';
export {
  buildMessages,
  plainTemplate,
  renderPrompt,
  type ChatTemplate,
  type FewShotExample,
  type PromptParts,
} from './chat.js';
export { chatModel, type ChatModel, type TextModel } from './text-model.js';
export {
  getTask,
  hit,
  registerTask,
  taskNames,
  type ChoiceQuery,
  type GenerationTask,
  type ItemScore,
  type MultipleChoiceTask,
  type Task,
  type TaskBase,
  type TaskDoc,
} from './task.js';
export { runTask, type EvalModel, type ItemRecord, type RunOptions, type TaskRun } from './runner.js';
export { scoreFiles, type ScoreReport, type ScoredResponse } from './score-file.js';
export { matchResponses, type MatchedResponse, type ResponseMatch } from './responses.js';
export {
  bootstrapMetric,
  DEFAULT_BOOTSTRAP_SAMPLES,
  type BootstrapOptions,
  type Contribution,
  type Metric,
} from './stats.js';
export {
  comparisonTable,
  renderJson,
  renderMarkdown,
  summarize,
  type ComparisonRow,
  type ComparisonTable,
  type TaskResult,
} from './report.js';
export { parseJsonl, readJsonl, type JsonlFile, type JsonlRow, type MalformedLine } from './jsonl.js';
export { extractFlexible, extractStrict, normalizeNumber } from './gsm8k/extract.js';
export { gsm8k, scoreGsm8k, type Gsm8kDoc } from './gsm8k/task.js';
export { evaluate, extractMathAnswer, mathEquivalent, normalizeMathAnswer } from './math/normalize.js';
export { math, scoreMath, type MathDoc } from './math/task.js';
export { ifeval, loadIfEval, scoreIfEvalDoc, type IfEvalDoc } from './ifeval/task.js';
export { INSTRUCTION_IDS, buildInstruction, type InstructionCheck } from './ifeval/instructions.js';
export { looseVariants, scoreIfEval, type IfEvalVerdict } from './ifeval/score.js';
export { countSentences, countWords, splitSentences, wordTokens } from './ifeval/text.js';
export { detectLanguage } from './ifeval/language.js';
export { extractChoice, loadChoices, mmlu, mmluCloze, multipleChoiceTask, type ChoiceDoc } from './mc/task.js';
export { mulberry32 } from './random.js';
export {
  arith,
  arithAnswer,
  arithSolution,
  loadArith,
  parseArithPrompt,
  scoreArith,
  type ArithDoc,
  type ArithProblem,
  type ArithVerdict,
} from './tasks/arith.js';
export { countSections, loadSections, sections, type SectionsDoc } from './tasks/sections.js';
