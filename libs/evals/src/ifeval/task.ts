// IFEval as a generation task: each prompt carries verifiable instructions; a reply is checked
// against all of them, strictly and loosely, at prompt level (all followed) and per instruction.
// Reads the benchmark's input_data.jsonl: {"key", "prompt", "instruction_id_list", "kwargs"}.
import { buildMessages } from '../chat.js';
import { EvalError } from '../errors.js';
import { describe, readJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { hit, type GenerationTask, type ItemScore, type TaskDoc } from '../task.js';
import { buildIfEvalItem, scoreIfEval, type IfEvalItem } from './score.js';

/** One IFEval prompt with its instruction checks built. */
export interface IfEvalDoc extends TaskDoc {
  item: IfEvalItem;
}

/** Scores one reply: prompt-level and instruction-level, strict and loose. */
export function scoreIfEvalDoc(doc: IfEvalDoc, response: string): ItemScore {
  const { strict, loose } = scoreIfEval(doc.item, response);
  const count = (flags: boolean[]) => flags.filter(Boolean).length;
  const promptStrict = strict.every(Boolean);
  return {
    score: promptStrict ? 1 : 0,
    values: {
      prompt_level_strict_acc: hit(promptStrict),
      prompt_level_loose_acc: hit(loose.every(Boolean)),
      inst_level_strict_acc: { num: count(strict), den: strict.length },
      inst_level_loose_acc: { num: count(loose), den: loose.length },
    },
    detail: {
      key: doc.item.key,
      instructions: doc.item.instructionIds.map((id, i) => ({ id, strict: strict[i], loose: loose[i] })),
    },
  };
}

/** Reads IFEval input data, building every instruction's check (bad kwargs fail here). */
export async function loadIfEval(file: string): Promise<IfEvalDoc[]> {
  const rows = requireWellFormed(await readJsonl(file));
  return rows.map((row) => {
    const prompt = stringField(row, 'prompt', file);
    const ids = row.value.instruction_id_list;
    const kwargs = row.value.kwargs;
    const at = (field: string) => ({ file, line: row.line, field });
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new EvalError('INVALID_ARGUMENT', `expected a list of strings, got ${describe(ids)}`, {
        location: at('instruction_id_list'),
      });
    }
    if (!Array.isArray(kwargs) || kwargs.length !== ids.length ||
      !kwargs.every((k) => k !== null && typeof k === 'object' && !Array.isArray(k))) {
      throw new EvalError('INVALID_ARGUMENT', 'expected one object per instruction', {
        location: at('kwargs'),
      });
    }
    const key = row.value.key === undefined ? String(row.line) : String(row.value.key);
    const item = buildIfEvalItem(key, prompt, (ids as string[]).map((id, i) => ({
      id,
      kwargs: kwargs[i] as Record<string, unknown>,
      location: { file, line: row.line },
    })));
    return { id: key, text: prompt, line: row.line, item };
  });
}

/** IFEval; primary metric is prompt-level strict accuracy, the figure papers quote first. */
export const ifeval: GenerationTask<IfEvalDoc> = {
  kind: 'generation',
  name: 'ifeval',
  description: 'Verifiable instruction following (25 instruction kinds), strict and loose.',
  metrics: ['prompt_level_strict_acc', 'prompt_level_loose_acc', 'inst_level_strict_acc', 'inst_level_loose_acc'],
  primaryMetric: 'prompt_level_strict_acc',
  responseField: 'prompt',
  sampling: { temperature: 0, maxNewTokens: 1280, stop: [] },
  load: loadIfEval,
  score: scoreIfEvalDoc,
  messages(doc, fewshot) {
    return buildMessages({ fewshot, user: doc.text });
  },
  example(doc) {
    throw new EvalError('FAILED_PRECONDITION', `ifeval has no reference replies for few-shot (item ${doc.id})`);
  },
};
