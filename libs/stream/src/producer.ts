// The typed, idempotent producer: values are encoded with the topic's schema, keys are strings,
// and each send carries the caller's trace context in the record headers.
import type { DescMessage } from '@bufbuild/protobuf';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import kafkajs, { type Kafka, type Producer, type RecordMetadata } from 'kafkajs';
import { encodeValue, injectContext } from './codec.js';
import { toStreamError } from './errors.js';
import type { OutgoingRecord, Topic } from './topic.js';

const { Partitioners } = kafkajs;
const tracer = trace.getTracer('@delta/stream');

/** Producer settings. */
export interface ProducerOptions {
  /** Compress batches with gzip (the only codec kafkajs has built in). */
  gzip?: boolean;
  /**
   * Let the broker create a missing topic on first send (with broker defaults). Off by
   * default: a misspelt topic then fails loudly; create topics with admin().ensureTopics().
   */
  autoCreateTopics?: boolean;
}

/** Where a sent batch landed: one entry per partition written. */
export interface SendResult {
  topic: string;
  partition: number;
  /** Offset of the first record written to that partition. */
  baseOffset: string;
}

/**
 * Encodes records for a kafkajs send, with trace context in each record's headers: the
 * caller's, unless the record carries its own traceparent (a record that continues the trace
 * of an input it was made from).
 */
export function toKafkaMessages<D extends DescMessage>(
  topic: Topic<D>,
  records: readonly OutgoingRecord<D>[],
) {
  return records.map((r) => ({
    key: r.key,
    value: r.value === null ? null : encodeValue(topic.schema, r.value),
    headers: r.headers?.traceparent ? { ...r.headers } : injectContext({ ...r.headers }),
    ...(r.partition !== undefined ? { partition: r.partition } : {}),
  }));
}

/** Runs `send` in a PRODUCER span named after the topic; the span's context goes in headers. */
export async function inProducerSpan<T>(
  topicName: string,
  count: number,
  send: () => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(`send ${topicName}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.destination.name': topicName,
      'messaging.batch.message_count': count,
    },
  });
  try {
    return await context.with(trace.setSpan(context.active(), span), send);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** Sends typed records. Connects on first use; disconnect() when done. */
export class StreamProducer {
  private readonly producer: Producer;
  private connecting?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly options: ProducerOptions,
  ) {
    try {
      this.producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: options.autoCreateTopics ?? false,
      });
    } catch (err) {
      throw toStreamError(err, 'CONFIG', 'the producer settings are invalid');
    }
  }

  /** Connects now rather than on the first send. */
  async connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((err) => {
      this.connecting = undefined;
      throw toStreamError(err, 'CONNECTION', 'producer could not connect');
    });
    await this.connecting;
  }

  /**
   * Sends records to a topic and resolves once every in-sync replica has them. Retries on
   * retriable errors without duplicating (idempotent producer); a final failure is PRODUCE.
   */
  async send<D extends DescMessage>(
    topic: Topic<D>,
    records: readonly OutgoingRecord<D>[],
  ): Promise<SendResult[]> {
    if (records.length === 0) return [];
    await this.connect();
    return inProducerSpan(topic.name, records.length, async () => {
      let metadata: RecordMetadata[];
      try {
        metadata = await this.producer.send({
          topic: topic.name,
          acks: -1,
          ...(this.options.gzip ? { compression: kafkajs.CompressionTypes.GZIP } : {}),
          messages: toKafkaMessages(topic, records),
        });
      } catch (err) {
        throw toStreamError(
          err,
          'PRODUCE',
          `sending ${records.length} record(s) to ${topic.name} failed`,
        );
      }
      return metadata.map((m) => ({
        topic: m.topicName,
        partition: m.partition,
        baseOffset: m.baseOffset ?? '-1',
      }));
    });
  }

  async disconnect(): Promise<void> {
    if (!this.connecting) return;
    this.connecting = undefined;
    await this.producer.disconnect();
  }
}
