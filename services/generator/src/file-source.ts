// A job over a JSONL prompt file: reads it in order, reports each bad line by number and goes
// on, queues the prompts not yet answered for the run and model, and answers them batch by
// batch. The job ends at the end of the file or after `limit` prompts.
import { createReadStream } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { PromptSchema } from '@delta/contracts';
import { LmError, iteratePromptsJsonl } from '@delta/lm';
import { Code, RpcError } from '@delta/rpc';
import type { PromptWork } from './answer.js';
import { admitPrompt, answerAndCommit, type JobWork } from './batches.js';

/** Non-blank lines of a file, the progress total of a job over it. */
export async function countRecords(file: string): Promise<number> {
  let count = 0;
  let blank = true;
  for await (const chunk of createReadStream(file)) {
    for (const byte of chunk as Buffer) {
      if (byte === 0x0a) {
        if (!blank) count += 1;
        blank = true;
      } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
        blank = false;
      }
    }
  }
  return blank ? count : count + 1;
}

/** Answers every prompt of `file` that the run and model lack. */
export async function runFileSource(w: JobWork, file: string): Promise<void> {
  const { job, tally } = w;
  const limit = job.spec.prompts?.limit ?? 0;
  let total: number;
  try {
    total = await countRecords(file);
  } catch (err) {
    throw new RpcError(Code.NOT_FOUND, `spec.prompts.file: cannot read ${file}`, err);
  }
  if (limit > 0) total = Math.min(total, limit);
  const report = (stage: string) =>
    job.report({ done: Math.min(tally.handled, total), total, unit: 'prompts', stage });

  report('generating');
  let queued: PromptWork[] = [];
  const queuedIds = new Set<string>();
  const flush = async () => {
    const work = queued;
    queued = [];
    queuedIds.clear();
    if (work.length > 0) await answerAndCommit(w, work);
    report('generating');
  };

  let accepted = 0;
  try {
    for await (const item of iteratePromptsJsonl(file)) {
      if (job.signal.aborted) return;
      if ('rejected' in item) {
        tally.reject(item.rejected.reason);
        continue;
      }
      if (limit > 0 && accepted >= limit) break;
      accepted += 1;
      const { id, messages, line, task, reference, metadata } = item.prompt;
      const prompt = create(PromptSchema, {
        promptId: id, messages, task: task ?? '', reference: reference ?? '',
        metadata: metadata ?? {},
      });
      const work = admitPrompt(w, prompt, `line ${line}`, queuedIds);
      if (work) {
        queued.push(work);
        queuedIds.add(id);
      }
      if (queued.length >= w.decoding.batchSize) await flush();
    }
  } catch (err) {
    if (err instanceof LmError) {
      throw new RpcError(Code.FAILED_PRECONDITION, `spec.prompts.file: ${err.message}`, err);
    }
    throw err;
  }
  if (!job.signal.aborted) await flush();
  report('done');
}
