// Runs a task against a model: builds every item's prompt, sends them in batches, maps replies
// back to their items and scores them. Batches are formed from prompts sorted by length, and
// results are put back by item index, so batch size and order can never change a score.
import type { FewShotExample } from './chat.js';
import { EvalError } from './errors.js';
import type {
  ChatMessage,
  FinishReason,
  GenerationModel,
  LogLikelihoodModel,
  SamplingParams,
} from './model.js';
import { summarize, type TaskResult } from './report.js';
import type { BootstrapOptions } from './stats.js';
import type { GenerationTask, ItemScore, MultipleChoiceTask, Task, TaskDoc } from './task.js';

/** How to run a task; everything is optional. */
export interface RunOptions {
  /** Requests per model call (default 8). A throughput setting only. */
  batchSize?: number;
  /** Worked examples before each item (default 0). */
  numFewshot?: number;
  /** Where examples come from; by default the first items of the data other than the one asked. */
  fewshotDocs?: readonly TaskDoc[];
  /** Overrides of the task's generation settings. */
  sampling?: SamplingParams;
  bootstrap?: BootstrapOptions;
  /** Called after each batch with items done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What happened to one item: the prompt sent, the reply, and the verdict. */
export interface ItemRecord {
  id: string;
  line: number;
  messages: ChatMessage[];
  response?: string;
  finishReason?: FinishReason;
  score: number;
  detail: Record<string, unknown>;
}

/** A task's result for one model, with every item's record for a details file. */
export interface TaskRun {
  result: TaskResult;
  items: ItemRecord[];
}

/** The model capabilities a run may need; which one depends on the task's kind. */
export type EvalModel = Partial<GenerationModel & LogLikelihoodModel> & { readonly name: string };

/** Runs any task with the capability its kind needs; fails up front if the model lacks it. */
export async function runTask(
  model: EvalModel,
  task: Task,
  docs: readonly TaskDoc[],
  options: RunOptions = {},
): Promise<TaskRun> {
  if (task.kind === 'generation') {
    if (!model.generate) throw lacks(model, task, 'generate');
    return runGeneration(model as GenerationModel, task, docs, options);
  }
  if (!model.logLikelihood) throw lacks(model, task, 'logLikelihood');
  return runMultipleChoice(model as LogLikelihoodModel, task, docs, options);
}

function lacks(model: EvalModel, task: Task, method: string): EvalError {
  return new EvalError('FAILED_PRECONDITION', `model "${model.name}" has no ${method}(), which task "${task.name}" needs`);
}

async function runGeneration(
  model: GenerationModel,
  task: GenerationTask,
  docs: readonly TaskDoc[],
  options: RunOptions,
): Promise<TaskRun> {
  const sampling = { ...task.sampling, ...options.sampling };
  const messages = docs.map((doc) => task.messages(doc, fewshotFor(task, doc, docs, options)));
  const requests = messages.map((m, i) => ({ id: docs[i]!.id, messages: m, sampling }));

  const replies = await inBatches(requests, options, (batch, batchSize) =>
    model.generate(batch, { batchSize }), 'generate');

  const scores: ItemScore[] = [];
  const items = docs.map((doc, i) => {
    const reply = replies[i]!;
    const score = task.score(doc, reply.text);
    scores.push(score);
    return { id: doc.id, line: doc.line, messages: messages[i]!, response: reply.text,
      finishReason: reply.finishReason, score: score.score, detail: score.detail };
  });
  return { result: summarize(task, scores, options.bootstrap), items };
}

async function runMultipleChoice(
  model: LogLikelihoodModel,
  task: MultipleChoiceTask,
  docs: readonly TaskDoc[],
  options: RunOptions,
): Promise<TaskRun> {
  const queries = docs.map((doc) => task.query(doc, fewshotFor(task, doc, docs, options)));
  const requests = queries.flatMap((q, i) => q.continuations.map((continuation) => ({
    id: docs[i]!.id,
    messages: q.messages,
    continuation,
  })));

  const results = await inBatches(requests, options, (batch, batchSize) =>
    model.logLikelihood(batch, { batchSize }), 'logLikelihood');

  let next = 0;
  const scores: ItemScore[] = [];
  const items = docs.map((doc, i) => {
    const query = queries[i]!;
    const logprobs = query.continuations.map(() => results[next++]!.logprob);
    const score = task.scoreChoices(doc, query, logprobs);
    scores.push(score);
    return { id: doc.id, line: doc.line, messages: query.messages, score: score.score, detail: score.detail };
  });
  return { result: summarize(task, scores, options.bootstrap), items };
}

function fewshotFor(
  task: GenerationTask | MultipleChoiceTask,
  doc: TaskDoc,
  docs: readonly TaskDoc[],
  options: RunOptions,
): FewShotExample[] {
  const k = options.numFewshot ?? 0;
  if (k === 0) return [];
  const pool = (options.fewshotDocs ?? docs).filter((d) => d.id !== doc.id);
  if (pool.length < k) {
    throw new EvalError('INVALID_ARGUMENT', `${k} few-shot examples asked, ${pool.length} available`, {
      location: { field: 'num_fewshot' },
    });
  }
  return pool.slice(0, k).map((d) => task.example(d));
}

/**
 * Sends requests longest first in batches of `batchSize` and returns results in request order.
 * A model returning the wrong number of results is an INTERNAL error, never silently padded.
 */
async function inBatches<Req extends { messages: ChatMessage[] }, Res>(
  requests: readonly Req[],
  options: RunOptions,
  call: (batch: Req[], batchSize: number) => Promise<Res[]>,
  method: string,
): Promise<Res[]> {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new EvalError('INVALID_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`, {
      location: { field: 'batch_size' },
    });
  }
  const size = (r: Req) => r.messages.reduce((n, m) => n + m.content.length, 0);
  const order = requests.map((_, i) => i).sort((a, b) => size(requests[b]!) - size(requests[a]!) || a - b);

  const results = new Array<Res>(requests.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const out = await call(indices.map((i) => requests[i]!), batchSize);
    if (out.length !== indices.length) {
      throw new EvalError('INTERNAL', `${method}() returned ${out.length} results for ${indices.length} requests`);
    }
    indices.forEach((i, j) => (results[i] = out[j]!));
    options.onProgress?.(Math.min(start + batchSize, order.length), order.length);
  }
  return results;
}
