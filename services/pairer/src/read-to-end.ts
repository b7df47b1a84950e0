// Reads a whole topic once, from its oldest record to the end offsets it has when the read
// starts, seeing only committed records: how the pairer restores its state and exports pairs.
// It counts transaction markers toward the end, which a plain "last record seen" check would
// wait for forever. It does not follow the topic afterwards.
import { randomUUID } from 'node:crypto';
import { StreamError } from '@delta/stream';
import type { Kafka, KafkaMessage } from 'kafkajs';

/** Settings of one read. */
export interface ReadToEndOptions {
  /** Prefix of the throwaway consumer group's id. */
  groupPrefix: string;
  /** Longest the read may take before it fails as UNAVAILABLE-worthy (retriable). */
  timeoutMs: number;
}

/**
 * Hands every committed record of `topicName` below its current end offsets to `onRecord`, in
 * offset order within each partition; resolves with the number of records read.
 */
export async function readToEnd(
  kafka: Kafka,
  topicName: string,
  onRecord: (message: KafkaMessage, partition: number) => void,
  options: ReadToEndOptions,
): Promise<number> {
  const admin = kafka.admin();
  const groupId = `${options.groupPrefix}.read.${randomUUID()}`;
  let offsets: Array<{ partition: number; high: string; low: string }>;
  try {
    await admin.connect();
    offsets = await admin.fetchTopicOffsets(topicName);
  } catch (err) {
    await admin.disconnect();
    throw new StreamError('ADMIN', `reading the offsets of ${topicName} failed: ${
      (err as Error).message}`, { cause: err, retriable: true });
  }
  const ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low))
    .map((o) => [o.partition, BigInt(o.high)]));
  if (ends.size === 0) {
    await admin.disconnect();
    return 0;
  }

  let read = 0;
  let caughtUp: () => void = () => {};
  const ready = new Promise<void>((resolve) => { caughtUp = resolve; });
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, readUncommitted: false,
    allowAutoTopicCreation: false });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const end = ends.get(payload.partition);
    if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
      ends.delete(payload.partition);
      if (ends.size === 0) caughtUp();
    }
  });

  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topicName], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const end = ends.get(batch.partition);
          if (end === undefined || BigInt(message.offset) >= end) break;
          onRecord(message, batch.partition);
          read += 1;
        }
      },
    });
    await Promise.race([ready, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamError('CONSUME',
        `reading ${topicName} to its end took over ${options.timeoutMs} ms`,
        { retriable: true })), options.timeoutMs);
    })]);
    return read;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
