// Exactly-once consume-transform-produce: a read_committed consumer hands each fetched batch to
// a transform, whose output records and the batch's input offsets commit in one Kafka
// transaction. A failure aborts the transaction, and the batch is read and transformed again.
// Work a clock triggers (timeouts) commits through transact(), never overlapping a batch.
// Fencing of a zombie instance relies on a stable transactionalId per instance: kafkajs does
// not send consumer-group metadata with the offsets (KIP-447).
import type { DescMessage } from '@bufbuild/protobuf';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import kafkajs from 'kafkajs';
import { decodeRecord } from './codec.js';
import { producerLinks } from './consumer.js';
import { StreamError, ThrownErrors, toStreamError } from './errors.js';
import { toKafkaMessages } from './producer.js';
import type { OutgoingRecord, RecordOf, Topic } from './topic.js';

const { Partitioners } = kafkajs;
const tracer = trace.getTracer('@delta/stream');

/** Settings of a transactor. */
export interface TransactorOptions {
  /** Consumer group whose offsets advance with each transaction. */
  groupId: string;
  /**
   * Stable per instance (for example "<group>-<pod name>"), so a restarted instance fences its
   * predecessor.
   */
  transactionalId: string;
  sessionTimeoutMs?: number;
  /** Transaction timeout on the broker; default 60 s. */
  transactionTimeoutMs?: number;
  maxBytesPerPartition?: number;
}

/** Records for one output topic; build it with `output()` to have the value type checked. */
export interface Output {
  topic: Topic;
  records: readonly OutgoingRecord[];
}

/** Pairs an output topic with its records, checking the records against the topic's schema. */
export function output<D extends DescMessage>(
  topic: Topic<D>,
  records: readonly OutgoingRecord<D>[],
): Output {
  return { topic: topic as unknown as Topic, records: records as readonly OutgoingRecord[] };
}

/** The transform: input records of one partition in, output records out. */
export type Transform<T extends Topic> = (
  records: RecordOf<T>[],
  ctx: { topic: string; partition: number; heartbeat(): Promise<void> },
) => Promise<readonly Output[]>;

/** What a transactor reads and how it transforms. */
export interface TransactorRunOptions<T extends Topic> {
  topics: readonly T[];
  fromBeginning?: boolean;
  transform: Transform<T>;
  /** Called once per committed transaction (for progress and metrics). */
  onCommitted?: (info: {
    topic: string;
    partition: number;
    inputs: number;
    outputs: number;
    nextOffset: string;
  }) => void;
  /** Called when the transactor stops for good on an error it will not retry. */
  onCrash?: (error: StreamError) => void;
  /**
   * Called with the offset the consumer reads next on a partition, counting transaction
   * markers and aborted records it skipped: after each committed batch, and after fetches
   * that held nothing but such records (which never reach the transform). A caller compares
   * it with end offsets to tell when it has read a topic up to a point.
   */
  onPosition?: (info: { topic: string; partition: number; position: string }) => void;
}

/** Runs consume-transform-produce with exactly-once results. */
export class StreamTransactor {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly thrown = new ThrownErrors();
  /** Serialises transactions: one producer has at most one open transaction. */
  private turn: Promise<unknown> = Promise.resolve();
  private running = false;

  constructor(
    kafka: Kafka,
    readonly options: TransactorOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: 1_000,
      allowAutoTopicCreation: false,
    });
    this.producer = kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs ?? 60_000,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
  }

  /** Connects, subscribes and starts transforming in the background; resolves once running. */
  async run<T extends Topic>(options: TransactorRunOptions<T>): Promise<void> {
    const byName = new Map<string, Topic>(options.topics.map((t) => [t.name, t]));
    try {
      await this.producer.connect();
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: [...byName.keys()],
        fromBeginning: options.fromBeginning ?? false,
      });
    } catch (err) {
      throw toStreamError(
        err,
        'CONNECTION',
        `transactor ${this.options.transactionalId} could not start`,
      );
    }
    this.running = true;
    // A fetch of only markers or aborted records skips eachBatch; report how far it read.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0) return;
      options.onPosition?.({
        topic: payload.topic,
        partition: payload.partition,
        position: (BigInt(payload.lastOffset) + 1n).toString(),
      });
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) {
        options.onCrash?.(
          this.thrown.find(payload.error) ??
            toStreamError(
              payload.error,
              'CONSUME',
              `transactor ${this.options.transactionalId} stopped`,
            ),
        );
      }
    });

    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1, // one open transaction at a time per producer
      eachBatch: async (payload: EachBatchPayload) => {
        try {
          await this.exclusive(() => this.transactBatch(payload, byName, options));
        } catch (err) {
          this.thrown.remember(err);
          throw err;
        }
      },
    });
  }

  /**
   * Runs `work` and commits the records it returns in a transaction of their own, without
   * input offsets; for output a clock rather than input calls for (a timeout firing). It never
   * overlaps a batch's transform and transaction, so `work` sees the state the last batch left,
   * and `onCommitted` runs before the next batch starts. Only while running; a failure aborts
   * the transaction and rejects with a TRANSACTION StreamError.
   */
  async transact(
    work: () => Promise<readonly Output[]> | readonly Output[],
    onCommitted?: (written: number) => void,
  ): Promise<number> {
    if (!this.running) {
      throw new StreamError('CONFIG', `transactor ${this.options.transactionalId} is not running`);
    }
    return this.exclusive(async () => {
      const written = await this.commit(await work());
      onCommitted?.(written);
      return written;
    });
  }

  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.turn.then(fn, fn);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /** Transforms one fetched batch and commits its outputs with its input offsets. */
  private async transactBatch<T extends Topic>(
    payload: EachBatchPayload,
    byName: Map<string, Topic>,
    options: TransactorRunOptions<T>,
  ): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    const topic = byName.get(batch.topic)!;
    const records = batch.messages.map((m) =>
      decodeRecord(topic, batch.partition, m),
    ) as RecordOf<T>[];
    const last = batch.messages[batch.messages.length - 1]!.offset;
    const next = (BigInt(last) + 1n).toString();

    const span = tracer.startSpan(`process ${batch.topic}`, {
      kind: SpanKind.CONSUMER,
      links: producerLinks(records.map((r) => r.headers)),
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': batch.topic,
        'messaging.destination.partition.id': String(batch.partition),
        'messaging.batch.message_count': records.length,
        'messaging.consumer.group.name': this.options.groupId,
      },
    });
    let written = 0;
    try {
      await context.with(trace.setSpan(context.active(), span), async () => {
        const outputs = await options.transform(records, {
          topic: batch.topic,
          partition: batch.partition,
          heartbeat: payload.heartbeat,
        });
        written = await this.commit(outputs, { topic: batch.topic, partition: batch.partition,
          next, last });
      });
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }

    payload.resolveOffset(last);
    options.onCommitted?.({
      topic: batch.topic,
      partition: batch.partition,
      inputs: records.length,
      outputs: written,
      nextOffset: next,
    });
    options.onPosition?.({
      topic: batch.topic,
      partition: batch.partition,
      position: (BigInt(batch.lastOffset()) + 1n).toString(),
    });
  }

  /** One transaction: the outputs, then the input offsets if any; aborted on any failure. */
  private async commit(
    outputs: readonly Output[],
    input?: { topic: string; partition: number; next: string; last: string },
  ): Promise<number> {
    let written = 0;
    const transaction = await this.producer.transaction();
    try {
      for (const out of outputs) {
        if (out.records.length === 0) continue;
        written += out.records.length;
        await transaction.send({
          topic: out.topic.name,
          acks: -1,
          messages: toKafkaMessages(out.topic, out.records),
        });
      }
      if (input) {
        await transaction.sendOffsets({
          consumerGroupId: this.options.groupId,
          topics: [{ topic: input.topic,
            partitions: [{ partition: input.partition, offset: input.next }] }],
        });
      }
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      const what = input
        ? `transaction for ${input.topic}[${input.partition}] up to offset ${input.last}`
        : `transaction of ${written} record(s) without input`;
      throw toStreamError(err, 'TRANSACTION', `${what} was aborted`);
    }
    return written;
  }

  /** Stops after the transaction in progress; uncommitted input is read again by the next run. */
  async disconnect(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }
}
