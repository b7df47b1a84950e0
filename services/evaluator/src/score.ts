// The Score call: given responses, scored with a task's scorer against the task's data; no
// model runs. Each item is matched to an item of the data by id, else by its prompt (question)
// text; an item that matches nothing, or answers an item already answered, is refused with its
// index. Metrics aggregate in data order, so the order items arrive in never moves them.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ScoreRequest, ScoreResponseSchema } from '@delta/contracts';
import { DEFAULT_BOOTSTRAP_SAMPLES, summarize, type ItemScore, type TaskDoc } from '@delta/evals';
import { Violations } from '@delta/rpc';
import type { Roots } from '@delta/service';
import type { EvaluatorSettings } from './config.js';
import { taskResultMessage } from './evaluate.js';
import type { EvaluatorMetrics } from './metrics.js';
import { loadTaskData, lookupTask, seedNumber } from './spec.js';

/** Violations listed in one error before the rest are counted. */
const MAX_LISTED = 10;

/**
 * Index into `docs` for each request item, or violations naming the items that match nothing
 * or repeat an item.
 */
export function matchItems(
  items: ScoreRequest['items'],
  docs: readonly TaskDoc[],
  dataFile: string,
  v: Violations,
): number[] {
  const byId = new Map<string, number>();
  const byText = new Map<string, number>();
  docs.forEach((doc, i) => {
    byId.set(doc.id, i);
    if (!byText.has(doc.text)) byText.set(doc.text, i);
  });

  const answeredBy = new Map<number, number>();
  const matched: number[] = [];
  let problems = 0;
  const problem = (field: string, text: string) => {
    problems += 1;
    if (problems <= MAX_LISTED) v.add(field, text);
  };
  items.forEach((item, i) => {
    const index = (item.id ? byId.get(item.id) : undefined) ?? byText.get(item.prompt);
    if (index === undefined) {
      const by = item.id ? `id "${item.id}" or this prompt` : 'this prompt';
      problem(`items[${i}]`, `no item of ${dataFile || 'the built-in data'} has ${by}`);
      return;
    }
    const earlier = answeredBy.get(index);
    if (earlier !== undefined) {
      const id = docs[index]!.id;
      problem(`items[${i}]`, `answers the same item (id "${id}") as items[${earlier}]`);
      return;
    }
    answeredBy.set(index, i);
    matched.push(index);
  });
  if (problems > MAX_LISTED) v.add('items', `${problems - MAX_LISTED} more items at fault`);
  return matched;
}

/** Serves one Score call. */
export async function scoreResponses(
  req: ScoreRequest,
  roots: Roots,
  settings: EvaluatorSettings,
  metrics: EvaluatorMetrics,
): Promise<MessageInitShape<typeof ScoreResponseSchema>> {
  const v = new Violations();
  const task = lookupTask(v, 'task', req.task);
  if (v.required('items', req.items)) v.atMost('items', req.items.length, settings.maxScoreItems);
  v.atMost('bootstrap_samples', req.bootstrapSamples, settings.maxBootstrapSamples);
  v.throwIfAny();

  const docs = await loadTaskData(task!, req.dataFile, roots, 'data_file');
  const matched = matchItems(req.items, docs, req.dataFile, v);
  v.throwIfAny();

  const scores = new Map<number, ItemScore>();
  req.items.forEach((item, i) => {
    scores.set(matched[i]!, task!.score(docs[matched[i]!], item.response));
  });
  const inDataOrder = [...scores.keys()].sort((a, b) => a - b).map((i) => scores.get(i)!);
  const result = summarize(task!, inDataOrder, {
    samples: req.bootstrapSamples || DEFAULT_BOOTSTRAP_SAMPLES,
    seed: seedNumber(req.seed),
  });
  metrics.itemsScored(task!.name, req.items.length);

  const items = !req.details ? [] : req.items.map((_, i) => {
    const s = scores.get(matched[i]!)!;
    return { id: docs[matched[i]!]!.id, score: s.score, detailJson: JSON.stringify(s.detail) };
  });
  return { result: taskResultMessage(result), items };
}
