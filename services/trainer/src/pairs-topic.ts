// Reads the pairs of one run from the pairs topic, up to the end offsets the topic had when the
// read began, with read_committed isolation (the pairer writes in transactions, so aborted
// pairs are never seen). A throwaway consumer group is used and deleted; nothing is committed.
// Records written after the read began are left for a later job.
import { randomUUID } from 'node:crypto';
import { PairSchema } from '@delta/contracts';
import { decodeRecord, topic, StreamError, type Stream } from '@delta/stream';
import type { Consumer } from 'kafkajs';
import { contentId } from './pairs-jsonl.js';
import type { TextPair } from './tokenize.js';

/** What a read of the topic found. */
export interface TopicPairs {
  /** This run's pairs, one per pair id, sorted by pair id. */
  pairs: TextPair[];
  /** The offsets read up to, by partition: where this data set ends. */
  endOffsets: Record<string, string>;
  /** Records read in all, of any run. */
  records: number;
  /** Records of this run that repeated a pair id already read. */
  duplicates: number;
  /** Records that did not decode as a Pair, each named by partition and offset. */
  malformed: string[];
}

/** How to read. */
export interface TopicReadOptions {
  /** Longest time to reach the end offsets. */
  timeoutMs: number;
  /** Fails past this many pairs of the run. */
  maxPairs: number;
  signal?: AbortSignal;
}

/** Why a topic read failed, with what a user can do about it. */
export class TopicReadError extends Error {
  override readonly name = 'TopicReadError';
  constructor(
    readonly reason: 'missing' | 'timeout' | 'too_many' | 'aborted',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Reads every pair of `runId` written to `topicName` before this call. */
export async function readPairsTopic(
  stream: Stream,
  topicName: string,
  runId: string,
  options: TopicReadOptions,
): Promise<TopicPairs> {
  const pairsTopic = topic(topicName, PairSchema);
  const admin = stream.kafka.admin();
  let offsets: { partition: number; low: string; high: string }[];
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topicName)) {
      throw new TopicReadError('missing', `topic ${topicName} does not exist`);
    }
    // ListOffsets answers with read_committed isolation: the last stable offsets.
    offsets = await admin.fetchTopicOffsets(topicName);
  } catch (err) {
    if (err instanceof TopicReadError) throw err;
    throw new StreamError('ADMIN', `reading the offsets of ${topicName} failed`,
      { cause: err, retriable: true });
  } finally {
    await admin.disconnect();
  }

  const ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const waiting = new Set(offsets.filter((o) => BigInt(o.high) > BigInt(o.low))
    .map((o) => o.partition));
  const byId = new Map<string, TextPair>();
  const result: TopicPairs = {
    pairs: [],
    endOffsets: Object.fromEntries([...ends].map(([p, o]) => [String(p), o.toString()])),
    records: 0,
    duplicates: 0,
    malformed: [],
  };
  if (waiting.size === 0) return result;

  const groupId = `delta.trainer.read.${randomUUID()}`;
  const consumer: Consumer = stream.kafka.consumer({
    groupId, readUncommitted: false, maxWaitTimeInMs: 250, allowAutoTopicCreation: false,
  });
  let finish: (err?: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve());
  });
  const advance = (partition: number, next: bigint) => {
    if (waiting.has(partition) && next >= ends.get(partition)!) {
      waiting.delete(partition);
      if (waiting.size === 0) finish();
    }
  };
  // Every fetch ends here, also one that held only transaction markers or aborted records.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    advance(payload.partition, BigInt(payload.lastOffset) + 1n);
  });

  const timer = setTimeout(() => finish(new TopicReadError('timeout',
    `reading ${topicName} up to its end offsets took over ${options.timeoutMs} ms`)),
  options.timeoutMs);
  const onAbort = () => finish(new TopicReadError('aborted', 'the job was stopped'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topicName], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= end) break;
          result.records += 1;
          let pair;
          try {
            pair = decodeRecord(pairsTopic, batch.partition, message).value;
          } catch {
            result.malformed.push(`${topicName}[${batch.partition}]@${message.offset}`);
            continue;
          }
          if (pair.runId !== runId) continue;
          const pairId = pair.pairId || `${topicName}[${batch.partition}]@${message.offset}`;
          if (byId.has(pairId)) {
            result.duplicates += 1;
            continue;
          }
          if (byId.size >= options.maxPairs) {
            finish(new TopicReadError('too_many', `run ${runId} has more than ` +
              `${options.maxPairs} pairs in ${topicName} (the service's DELTA_TRAINER_MAX_PAIRS)`));
            return;
          }
          byId.set(pairId, {
            pairId,
            prompt: pair.prompt.map((m) => ({ role: m.role, content: m.content })),
            chosen: pair.chosen?.text ?? '',
            rejected: pair.rejected?.text ?? '',
          });
        }
      },
    });
    await done;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroup(stream, groupId);
  }

  // Ordered by content, not by pair id: the pairer's ids include the run id, and the order
  // decides the batches and the held-out split, so two runs over the same pairs train alike.
  const keyed = [...byId.values()].map((p) => ({ key: `${contentId(p)}\u0000${p.pairId}`, p }));
  result.pairs = keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ p }) => p);
  return result;
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
