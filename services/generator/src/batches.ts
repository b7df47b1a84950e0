// What both prompt sources share once a job is set up: deciding what to do with each prompt
// (reject, skip as answered, or queue it) and answering a queued batch then committing it.
// Where prompts come from, and when a job ends, is file-source.ts's and topic-source.ts's part.
import type { GenerationJob, Prompt } from '@delta/contracts';
import type { RunningJob } from '@delta/jobs';
import type { LanguageModel } from '@delta/lm';
import {
  answerBatch, promptProblem, tokenizePrompt, type Decoding, type PromptWork,
} from './answer.js';
import type { Answered } from './answered.js';
import type { Tally } from './tally.js';
import type { ConsumedOffsets, ResponseWriter } from './writer.js';

/** A set-up job: its model, settings, writer and figures. */
export interface JobWork {
  job: RunningJob<GenerationJob>;
  lm: LanguageModel;
  decoding: Decoding;
  writer: ResponseWriter;
  answered: Answered;
  tally: Tally;
  /** The model name the records carry. */
  model: string;
}

/**
 * Decides about one prompt: rejected (bad record or too long, with `where` in the reason),
 * skipped (every sample already written by another job, or the same id already queued in
 * `queued`), or returned as work to decode.
 */
export function admitPrompt(
  w: JobWork,
  prompt: Prompt,
  where: string,
  queued: ReadonlySet<string>,
): PromptWork | null {
  const problem = promptProblem(prompt);
  if (problem) {
    w.tally.reject(`${where}: ${problem}`);
    return null;
  }
  const samples = w.answered.missing(prompt.promptId, w.decoding.n);
  if (samples.length === 0 || queued.has(prompt.promptId)) {
    // What this job wrote before a restart is already in its counts.
    if (!w.answered.answeredByThisJob(prompt.promptId) || queued.has(prompt.promptId)) {
      w.tally.skip();
    }
    return null;
  }
  const ids = tokenizePrompt(w.lm, prompt, w.decoding.rawPrompts);
  if (typeof ids === 'string') {
    w.tally.reject(`${where}: ${ids}`);
    return null;
  }
  return { prompt, where, ids, samples };
}

/** Hooks of a batch whose prompts came from a topic partition. */
export interface CommitHooks {
  /** Offsets to commit with the responses. */
  offsets?: ConsumedOffsets;
  /** Extra signal that discards the batch (a rebalance took the partition away). */
  signal?: AbortSignal;
  onProgress?: () => void;
}

/**
 * Answers a batch and commits its records (with the offsets, if any) in one transaction.
 * Returns false when the batch was given up before it finished: nothing was written, and its
 * prompts are answered by a later run.
 */
export async function answerAndCommit(
  w: JobWork,
  work: readonly PromptWork[],
  hooks: CommitHooks = {},
): Promise<boolean> {
  const signal = hooks.signal ? AbortSignal.any([w.job.signal, hooks.signal]) : w.job.signal;
  let responses: Awaited<ReturnType<typeof answerBatch>>['responses'] = [];
  let seconds = 0;
  if (work.length > 0) {
    const result = await answerBatch(w.lm, work, w.decoding, {
      runId: w.job.runId,
      jobId: w.job.jobId,
      model: w.model,
      signal,
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
    });
    if (result.cancelled) return false;
    responses = result.responses;
    seconds = result.seconds;
  }
  if (hooks.signal?.aborted) return false;

  await w.writer.commit(responses, hooks.offsets);
  for (const r of responses) w.answered.add(r.promptId, r.sampleIndex);
  if (work.length > 0) w.tally.answered(work.length, responses, seconds);
  return true;
}
