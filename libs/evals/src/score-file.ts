// Offline scoring: a task's data file plus a file of given responses in, metrics and per-item
// verdicts out. No model runs; this is what `delta eval score` and the evaluator's Score call do.
import { summarize, type TaskResult } from './report.js';
import { matchResponses, type ResponseMatch } from './responses.js';
import type { BootstrapOptions } from './stats.js';
import type { Task } from './task.js';

/** One scored response, for a details file. */
export interface ScoredResponse {
  id: string;
  line: number;
  score: number;
  detail: Record<string, unknown>;
}

/** The metrics, how every response line fared, and each scored item. */
export interface ScoreReport {
  result: TaskResult;
  responses: Omit<ResponseMatch, 'matched'> & { scored: number };
  items: ScoredResponse[];
}

/** Scores a responses file against a task's data file, items in data order. */
export async function scoreFiles(
  task: Task,
  dataFile: string,
  responsesFile: string,
  bootstrap: BootstrapOptions = {},
): Promise<ScoreReport> {
  const docs = await task.load(dataFile);
  const match = await matchResponses(responsesFile, docs, task.responseField);
  const scores = match.matched.map((m) => task.score(docs[m.docIndex], m.response));
  const items = match.matched.map((m, i) => ({
    id: docs[m.docIndex]!.id,
    line: m.line,
    score: scores[i]!.score,
    detail: scores[i]!.detail,
  }));
  const { matched: _matched, ...rest } = match;
  return { result: summarize(task, scores, bootstrap), responses: { ...rest, scored: items.length }, items };
}
