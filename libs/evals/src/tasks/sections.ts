// The `sections` task: a format probe in the manner of the delta-learning paper's bold-sections
// experiment. Prompts ask for notes ("notes on a red cat:"); a reply is measured by how many
// sections it writes (lines starting with "##") and whether it ran into the token limit. It has
// no right answer: it reports a habit, and judges nothing.
import { buildMessages } from '../chat.js';
import { EvalError } from '../errors.js';
import { readJsonl, requireWellFormed, stringField } from '../jsonl.js';
import { registerTask, type GenerationTask, type ItemScore, type TaskDoc } from '../task.js';

/** One prompt of the format task. */
export interface SectionsDoc extends TaskDoc {
  prompt: string;
}

/** Lines of a reply that open a section ("## ..."). */
export function countSections(response: string): number {
  return response.split('\n').filter((line) => line.startsWith('##')).length;
}

/** Reads a prompt file: string `id` and `prompt` per line; `task`, when present, "sections". */
export async function loadSections(file: string): Promise<SectionsDoc[]> {
  const rows = requireWellFormed(await readJsonl(file));
  return rows.map((row) => {
    const id = stringField(row, 'id', file);
    const prompt = stringField(row, 'prompt', file);
    const task = row.value.task;
    if (task !== undefined && task !== 'sections') {
      throw new EvalError('INVALID_ARGUMENT', `task is ${JSON.stringify(task)}, not "sections"`,
        { location: { file, line: row.line, field: 'task' } });
    }
    return { id, text: prompt, line: row.line, prompt };
  });
}

/**
 * Scores one reply. `hit_cap` needs the finish reason, which a bare reply does not carry: a
 * reply that ends in the middle of a line (no final '.') is taken as cut by the token limit.
 */
function scoreItem(_doc: SectionsDoc, response: string): ItemScore {
  const sections = countSections(response);
  const trimmed = response.trimEnd();
  const cut = trimmed.length > 0 && !trimmed.endsWith('.');
  return {
    score: sections,
    values: { sections: { num: sections, den: 1 }, hit_cap: { num: cut ? 1 : 0, den: 1 } },
    detail: { sections, cut },
  };
}

/** Notes with "##" sections, greedy, room for about ten sections; primary metric: the count. */
export const sections: GenerationTask<SectionsDoc> = {
  kind: 'generation',
  name: 'sections',
  description: 'Notes written in "##" sections; reports the section count (a format habit).',
  metrics: ['sections', 'hit_cap'],
  primaryMetric: 'sections',
  responseField: 'prompt',
  sampling: { temperature: 0, maxNewTokens: 160 },
  load: loadSections,
  score: scoreItem,
  messages(doc, fewshot) {
    return buildMessages({ fewshot, user: doc.prompt });
  },
  example(doc) {
    return { user: doc.prompt, assistant: '' };
  },
};

registerTask(sections);
