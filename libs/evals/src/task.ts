// What a benchmark task is: its data, how a prompt is built, how a reply or a choice is scored,
// and which metrics it reports. Tasks register by name; adding one is one file that calls
// `registerTask`. Running tasks against models lives in runner.ts.
import type { FewShotExample } from './chat.js';
import { EvalError } from './errors.js';
import type { ChatMessage, SamplingParams } from './model.js';
import type { Contribution } from './stats.js';

/** One item of a task's data: a stable id, the text responses are matched by, and the source line. */
export interface TaskDoc {
  id: string;
  /** The prompt (IFEval) or question (GSM8K) text a response line names. */
  text: string;
  line: number;
}

/** The verdict on one item: its metric contributions and what the scorer found. */
export interface ItemScore {
  /** The primary metric's value for this item (for example 1 correct, 0 wrong). */
  score: number;
  values: Record<string, Contribution>;
  /** JSON-ready findings: extracted answers, instructions followed, log-probs. */
  detail: Record<string, unknown>;
}

/** What every task has, whatever kind it is. */
export interface TaskBase<Doc extends TaskDoc> {
  readonly name: string;
  readonly description: string;
  /** Metric names in report order; the first ones a reader should look at come first. */
  readonly metrics: readonly string[];
  /** The metric a comparison table shows for this task. */
  readonly primaryMetric: string;
  /** Field of a response line that holds the item's text ("prompt" or "question"). */
  readonly responseField: string;
  /** Reads the task's data file; errors name the file, line and field at fault. */
  load(file: string): Promise<Doc[]>;
  /**
   * The task's own items, for a task that ships its data (a synthetic demo task); callers use
   * it when no data file is named. Tasks without built-in data leave it out.
   */
  loadBuiltin?(): Promise<Doc[]>;
  /** Scores a given reply to an item: used by offline scoring and by generation tasks. */
  score(doc: Doc, response: string): ItemScore;
}

/** A task answered by generating text. */
export interface GenerationTask<Doc extends TaskDoc = TaskDoc> extends TaskBase<Doc> {
  readonly kind: 'generation';
  readonly sampling: SamplingParams;
  /** The conversation asking this item, with worked examples first. */
  messages(doc: Doc, fewshot: readonly FewShotExample[]): ChatMessage[];
  /** The item as a worked example, for few-shot prompts. */
  example(doc: Doc): FewShotExample;
}

/** A multiple-choice query: the conversation, each choice's continuation and the answer. */
export interface ChoiceQuery {
  messages: ChatMessage[];
  continuations: string[];
  gold: number;
}

/** A task answered by comparing the log-likelihood of each choice. */
export interface MultipleChoiceTask<Doc extends TaskDoc = TaskDoc> extends TaskBase<Doc> {
  readonly kind: 'multiple_choice';
  query(doc: Doc, fewshot: readonly FewShotExample[]): ChoiceQuery;
  /** Scores the item from each continuation's log-prob, in the query's order. */
  scoreChoices(doc: Doc, query: ChoiceQuery, logprobs: number[]): ItemScore;
  example(doc: Doc): FewShotExample;
}

/** Any task. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Task = GenerationTask<any> | MultipleChoiceTask<any>;

const registry = new Map<string, Task>();

/** Makes a task available by name to runners, the CLI and the evaluator service. */
export function registerTask(task: Task): void {
  if (registry.has(task.name)) {
    throw new EvalError('FAILED_PRECONDITION', `task "${task.name}" is already registered`);
  }
  registry.set(task.name, task);
}

/** Looks a task up by name; an unknown name lists the known ones. */
export function getTask(name: string): Task {
  const task = registry.get(name);
  if (!task) {
    const known = [...registry.keys()].sort().join(', ');
    throw new EvalError('NOT_FOUND', `unknown task "${name}"; known tasks: ${known}`, {
      location: { field: 'task' },
    });
  }
  return task;
}

/** Names of all registered tasks, sorted. */
export function taskNames(): string[] {
  return [...registry.keys()].sort();
}

/** A contribution of a 0/1 outcome. */
export function hit(ok: boolean): Contribution {
  return { num: ok ? 1 : 0, den: 1 };
}
