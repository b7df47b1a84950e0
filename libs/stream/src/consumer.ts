// The typed consumer: records arrive decoded, handlers run inside the producer's trace, and an
// offset is committed only after its handler succeeded (at-least-once; a failed handler sees
// the record again).
import { SpanKind, SpanStatusCode, context, trace, type Link } from '@opentelemetry/api';
import type { Consumer, EachBatchPayload, EachMessagePayload, Kafka } from 'kafkajs';
import { decodeRecord, extractContext } from './codec.js';
import { StreamError, ThrownErrors, toStreamError } from './errors.js';
import type { RecordOf, Topic } from './topic.js';

const tracer = trace.getTracer('@delta/stream');

/** Consumer group settings. */
export interface ConsumerOptions {
  groupId: string;
  /** Read only committed transactional records (default true). */
  readCommitted?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Largest fetch per partition; bounds a batch. Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Longest wait of a fetch for new records; also bounds how long disconnect() waits. 1 s. */
  maxWaitTimeMs?: number;
}

/** Calls for each record; a throw leaves the record uncommitted, and it is delivered again. */
export type MessageHandler<T extends Topic> = (record: RecordOf<T>) => Promise<void>;

/** Context for batch handlers. */
export interface BatchContext {
  topic: string;
  partition: number;
  /** Keeps group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: finish early, what is not returned is redelivered. */
  isRunning(): boolean;
}

/** Calls for each fetched batch (one partition); the whole batch is committed after it. */
export type BatchHandler<T extends Topic> = (
  records: RecordOf<T>[],
  ctx: BatchContext,
) => Promise<void>;

/** What to consume and how to handle it. Exactly one of eachMessage and eachBatch. */
export interface RunOptions<T extends Topic> {
  topics: readonly T[];
  /** Where a group without a committed offset starts: true for the oldest record. */
  fromBeginning?: boolean;
  eachMessage?: MessageHandler<T>;
  eachBatch?: BatchHandler<T>;
  /**
   * Called for a record that does not decode; the record is then skipped and committed.
   * Without it, a bad record stops the consumer (onCrash gets a DECODE error).
   */
  onDecodeError?: (error: StreamError) => Promise<void> | void;
  /** Called when the consumer stops for good on an error it will not retry. */
  onCrash?: (error: StreamError) => void;
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Links to the producers' spans of a batch, so a batch span shows where its records came from. */
export function producerLinks(headers: Record<string, string>[]): Link[] {
  return headers
    .map((h) => trace.getSpanContext(extractContext(h)))
    .filter((c): c is NonNullable<typeof c> => c !== undefined && trace.isSpanContextValid(c))
    .map((c) => ({ context: c }));
}

/** Consumes typed records as a member of a consumer group. */
export class StreamConsumer {
  private readonly consumer: Consumer;
  private running = false;
  private readonly thrown = new ThrownErrors();

  constructor(
    kafka: Kafka,
    readonly options: ConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: !(options.readCommitted ?? true),
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 1_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1_000,
      allowAutoTopicCreation: false,
    });
  }

  /**
   * Joins the group, subscribes and starts handling records in the background; resolves once
   * running. Stop with disconnect(), which waits for the handler in progress.
   */
  async run<T extends Topic>(options: RunOptions<T>): Promise<void> {
    if (Boolean(options.eachMessage) === Boolean(options.eachBatch)) {
      throw new StreamError('CONFIG', 'give exactly one of eachMessage and eachBatch');
    }
    if (this.running) throw new StreamError('CONFIG', 'this consumer is already running');
    const byName = new Map<string, Topic>(options.topics.map((t) => [t.name, t]));

    try {
      await this.consumer.connect();
      await this.consumer.subscribe({
        topics: [...byName.keys()],
        fromBeginning: options.fromBeginning ?? false,
      });
    } catch (err) {
      throw toStreamError(err, 'CONNECTION', `consumer ${this.options.groupId} could not join`);
    }
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.running = false;
      options.onCrash?.(
        this.thrown.find(payload.error) ??
          toStreamError(payload.error, 'CONSUME', `consumer ${this.options.groupId} stopped`),
      );
    });

    // A record that does not decode: skip it when the caller said how, else stop the consumer
    // (StreamError DECODE is not retriable, so kafkajs does not restart).
    const decode = async (
      topicName: string,
      payload: { partition: number; message: EachMessagePayload['message'] },
    ) => {
      const topic = byName.get(topicName)!;
      try {
        return decodeRecord(topic, payload.partition, payload.message) as RecordOf<T>;
      } catch (err) {
        if (!(err instanceof StreamError) || !options.onDecodeError) throw err;
        await options.onDecodeError(err);
        return undefined;
      }
    };

    this.running = true;
    const { eachMessage, eachBatch } = options;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      ...(eachMessage
        ? {
            eachMessage: this.remember(async (payload: EachMessagePayload) => {
              const record = await decode(payload.topic, payload);
              if (record) await this.handleOne(record, eachMessage);
              await this.consumer.commitOffsets([
                {
                  topic: payload.topic,
                  partition: payload.partition,
                  offset: nextOffset(payload.message.offset),
                },
              ]);
            }),
          }
        : {
            eachBatch: this.remember(async (payload: EachBatchPayload) => {
              const { batch } = payload;
              if (batch.messages.length === 0) return;
              const records: RecordOf<T>[] = [];
              for (const message of batch.messages) {
                const record = await decode(batch.topic, { partition: batch.partition, message });
                if (record) records.push(record);
              }
              await this.handleBatch(records, payload, eachBatch!);
              const last = batch.messages[batch.messages.length - 1]!.offset;
              await this.consumer.commitOffsets([
                { topic: batch.topic, partition: batch.partition, offset: nextOffset(last) },
              ]);
              payload.resolveOffset(last);
            }),
          }),
    });
  }

  private remember<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
    return async (...args: A) => {
      try {
        await fn(...args);
      } catch (err) {
        this.thrown.remember(err);
        throw err;
      }
    };
  }

  private async handleOne<T extends Topic>(record: RecordOf<T>, handler: MessageHandler<T>) {
    const parent = extractContext(record.headers);
    const span = tracer.startSpan(
      `process ${record.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': record.topic,
          'messaging.destination.partition.id': String(record.partition),
          'messaging.kafka.offset': Number(record.offset),
          'messaging.kafka.message.key': record.key,
          'messaging.consumer.group.name': this.options.groupId,
        },
      },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => handler(record));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  private async handleBatch<T extends Topic>(
    records: RecordOf<T>[],
    payload: EachBatchPayload,
    handler: BatchHandler<T>,
  ) {
    const { batch } = payload;
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
    try {
      await context.with(trace.setSpan(context.active(), span), () =>
        handler(records, {
          topic: batch.topic,
          partition: batch.partition,
          heartbeat: payload.heartbeat,
          isRunning: () => payload.isRunning() && !payload.isStale(),
        }),
      );
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * Leaves the group after the handler in progress ends. Uncommitted records are delivered
   * again, including one whose handler was still running (its commit is skipped on the way out).
   */
  async disconnect(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
  }
}
