// A job over a prompts topic, as one member of the consumer group of its run and model: every
// replica that runs a job for the same run and model shares the topic's partitions. Each batch's
// responses and the offsets of the prompts it read commit in one transaction. A job ends once
// the group has read the topic up to the end offsets it had when the job started, after
// `limit` prompts (records that are not Prompt messages do not count), on cancel, or when the
// consumer fails.
import { setTimeout as wait } from 'node:timers/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { PromptSchema, type Prompt } from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import type { Stream } from '@delta/stream';
import type { EachBatchPayload } from 'kafkajs';
import type { PromptWork } from './answer.js';
import { admitPrompt, answerAndCommit, type JobWork } from './batches.js';

/** Consumer settings: a batch may take long, so membership is kept by heartbeats during it. */
const SESSION_TIMEOUT_MS = 30_000;
const REBALANCE_TIMEOUT_MS = 60_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
/** How often the group's committed offsets are compared with the end offsets. */
const DRAINED_POLL_MS = 500;

const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);

/** Waits `ms`, or less when `signal` aborts (the caller then sees the abort itself). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => undefined);
}

/** Answers prompts of `topicName` as a member of `groupId` until the group has drained it. */
export async function runTopicSource(
  w: JobWork,
  stream: Stream,
  topicName: string,
  groupId: string,
): Promise<void> {
  const { job, tally } = w;
  const limit = job.spec.prompts?.limit ?? 0;
  const admin = stream.admin();
  const stop = new AbortController();
  const signal = AbortSignal.any([job.signal, stop.signal]);
  let failure: unknown;
  let read = 0;
  const report = (stage: string) => job.report({ done: tally.handled, total: 0, unit: 'prompts',
    stage });

  const consumer = stream.kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: SESSION_TIMEOUT_MS,
    rebalanceTimeout: REBALANCE_TIMEOUT_MS,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    maxWaitTimeInMs: 500,
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    failure ??= payload.error;
    stop.abort();
  });
  // A fetch of only transaction markers or aborted records is not handed to eachBatch; commit
  // its offset, so the group's position reaches the end offsets the job waits for.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize > 0 || payload.topic !== topicName) return;
    void consumer.commitOffsets([{ topic: topicName, partition: payload.partition,
      offset: (BigInt(payload.lastOffset) + 1n).toString() }]).catch(() => undefined);
  });

  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    const messages = batch.messages;
    // A rebalance gives the rest of the batch up at once, so the group can hand partitions to
    // a new member: what is not committed is read again by the partition's next owner.
    let lost = new AbortController();
    const beat = () => payload.heartbeat().catch((err: { type?: string }) => {
      if (REBALANCE_ERRORS.has(err.type ?? '')) lost.abort();
    });
    let i = 0;
    while (i < messages.length) {
      await beat();
      if (lost.signal.aborted || signal.aborted || !payload.isRunning() || payload.isStale()) {
        return;
      }
      if (limit > 0 && read >= limit) {
        stop.abort();
        return;
      }

      // One batch of prompts from this partition, in offset order.
      const queued: PromptWork[] = [];
      const queuedIds = new Set<string>();
      let last = messages[i]!.offset;
      while (i < messages.length && queued.length < w.decoding.batchSize &&
        !(limit > 0 && read >= limit)) {
        const message = messages[i++]!;
        last = message.offset;
        const where = `${topicName}[${batch.partition}]@${message.offset}`;
        let prompt: Prompt;
        try {
          if (!message.value) throw new Error('empty value');
          prompt = fromBinary(PromptSchema, message.value);
        } catch (err) {
          tally.reject(`${where}: not a delta.v1.Prompt (${(err as Error).message})`);
          continue;
        }
        read += 1;
        const work = admitPrompt(w, prompt, where, queuedIds);
        if (work) {
          queued.push(work);
          queuedIds.add(prompt.promptId);
        }
      }
      const through = i >= messages.length ? batch.lastOffset() : last;

      const committed = await answerAndCommit(w, queued, {
        offsets: { groupId, topic: topicName, partition: batch.partition,
          offset: (BigInt(through) + 1n).toString() },
        signal: lost.signal,
        onProgress: () => void beat(),
      });
      if (!committed) return;
      payload.resolveOffset(through);
      report('generating');
      lost = new AbortController();
    }
  };

  try {
    const ends = await admin.endOffsets(topicName);
    await consumer.connect();
    await consumer.subscribe({ topics: [topicName], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => {
        try {
          await eachBatch(payload);
        } catch (err) {
          // Failures end the job rather than being retried by kafkajs without end.
          failure ??= err;
          stop.abort();
        }
      },
    });
    report('generating');
    while (!signal.aborted) {
      try {
        if (await drained(admin, groupId, topicName, ends)) break;
      } catch (err) {
        failure ??= err;
        break;
      }
      await sleep(DRAINED_POLL_MS, signal);
    }
  } finally {
    stop.abort();
    await consumer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  if (failure instanceof RpcError) throw failure;
  if (failure) {
    throw new RpcError(Code.UNAVAILABLE,
      `reading prompts from ${topicName} failed: ${(failure as Error).message}`, failure);
  }
  report(job.signal.aborted ? 'stopped' : 'done');
}

/** True once the group's committed offsets reach `ends` on every partition that had records. */
async function drained(
  admin: ReturnType<Stream['admin']>,
  groupId: string,
  topicName: string,
  ends: Map<number, bigint>,
): Promise<boolean> {
  const committed = await admin.committedOffsets(groupId, topicName);
  for (const [partition, end] of ends) {
    if (end > 0n && (committed.get(partition) ?? -1n) < end) return false;
  }
  return true;
}
