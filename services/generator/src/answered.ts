// Finds what a run and model already answered by reading the responses topic from its start to
// its end offsets (read_committed, so aborted batches do not count). A restarted or repeated
// job skips those prompts. Reading the whole topic costs time in proportion to its size.
import { randomUUID } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { ResponseSchema, type Response } from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import type { Stream } from '@delta/stream';

/** The (prompt, sample) pairs a run and model has answered, and this job's own records. */
export class Answered {
  private readonly samples = new Map<string, Set<number>>();
  private readonly ownPrompts = new Set<string>();
  /** Records written by the job doing the scan (by an earlier process of it). */
  readonly own: Response[] = [];
  /** Records on the topic that did not decode as Response; they are ignored. */
  undecodable = 0;

  /** Notes one answered sample. */
  add(promptId: string, sample: number): void {
    let set = this.samples.get(promptId);
    if (!set) this.samples.set(promptId, (set = new Set()));
    set.add(sample);
  }

  /** Sample indexes below n that a prompt still lacks. */
  missing(promptId: string, n: number): number[] {
    const set = this.samples.get(promptId);
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (!set?.has(i)) out.push(i);
    return out;
  }

  /** Whether the job doing the scan answered this prompt itself (before a restart). */
  answeredByThisJob(promptId: string): boolean {
    return this.ownPrompts.has(promptId);
  }

  /** Notes a record of the job doing the scan. */
  addOwn(response: Response): void {
    this.own.push(response);
    this.ownPrompts.add(response.promptId);
  }

  /** Prompts with at least one answered sample. */
  get prompts(): number {
    return this.samples.size;
  }
}

/** What to look for and how long reading may take. */
export interface ScanOptions {
  runId: string;
  model: string;
  jobId: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Reads `topicName` up to the end offsets it has now and collects the samples of `runId` and
 * `model`. UNAVAILABLE when the end is not reached in time (a transaction of another writer
 * left open holds read_committed readers back until the broker aborts it).
 */
export async function scanAnswered(
  stream: Stream,
  topicName: string,
  options: ScanOptions,
): Promise<Answered> {
  const answered = new Answered();
  const admin = stream.admin();
  let ends: Map<number, bigint>;
  try {
    ends = await admin.endOffsets(topicName);
  } finally {
    await admin.disconnect();
  }
  const behind = new Map([...ends].filter(([, end]) => end > 0n));
  if (behind.size === 0) return answered;

  const groupId = `delta.generator.scan.${randomUUID()}`;
  const consumer = stream.kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  let reachedEnd: () => void = () => {};
  const done = new Promise<void>((resolve) => { reachedEnd = resolve; });
  // Batch events also come for fetches of only transaction markers or aborted records, so the
  // position passes those too.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = behind.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
      behind.delete(payload.partition);
      if (behind.size === 0) reachedEnd();
    }
  });

  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => reachedEnd();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topicName], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        let response: Response;
        try {
          response = fromBinary(ResponseSchema, message.value);
        } catch {
          answered.undecodable += 1;
          return;
        }
        if (response.runId !== options.runId || response.model !== options.model) return;
        answered.add(response.promptId, response.sampleIndex);
        if (response.jobId === options.jobId) answered.addOwn(response);
      },
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RpcError(Code.UNAVAILABLE,
        `reading ${topicName} to its end took over ${options.timeoutMs} ms; a transaction ` +
        'another writer left open blocks it until the broker aborts it; retry')),
      options.timeoutMs);
    });
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroup(stream, groupId);
  }
  return answered;
}

async function deleteGroup(stream: Stream, groupId: string): Promise<void> {
  const admin = stream.kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // The group expires on its own; failing to delete it early loses nothing.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
