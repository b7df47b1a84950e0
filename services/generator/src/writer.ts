// Writes Response records in Kafka transactions: one transaction per batch of prompts, holding
// every sample of those prompts and, when they came from a prompts topic, the consumer offsets
// that mark them read. Readers with read_committed (the default of @delta/stream consumers) see
// a batch whole or not at all, so a job killed mid-batch leaves no partial batch behind.
// It does not decide what is written; the job loops do.
import { ResponseSchema, type Response } from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import { encodeValue, injectContext, topic, type Stream, type Topic } from '@delta/stream';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import kafkajs, { type Producer } from 'kafkajs';

const { Partitioners } = kafkajs;
const tracer = trace.getTracer('delta-generator');

/** Transactions still open this long after a crash are aborted by the broker. */
export const TRANSACTION_TIMEOUT_MS = 30_000;

/** Consumer offsets committed in the same transaction as the responses they led to. */
export interface ConsumedOffsets {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to read, as a decimal string. */
  offset: string;
}

/** Tries of a transaction the coordinator refused because the previous one was completing. */
const CONCURRENT_RETRIES = 8;

function errorChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = err;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause ??
      (current as { originalError?: unknown }).originalError;
  }
  return chain;
}

function isConcurrentTransaction(err: unknown): boolean {
  return errorChain(err).some((e) => (e as { type?: string }).type === 'CONCURRENT_TRANSACTIONS');
}

/** Whether an error (or its cause) says a newer writer with the same transactional id exists. */
export function isFenced(err: unknown): boolean {
  return errorChain(err).some((e) => {
    const type = (e as { type?: string }).type;
    return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' ||
      /fenced/i.test(e.message);
  });
}

/** The transactional producer of one job. Open it with ResponseWriter.open(). */
export class ResponseWriter {
  private constructor(
    private readonly producer: Producer,
    readonly topic: Topic<typeof ResponseSchema>,
    readonly transactionalId: string,
  ) {}

  /**
   * Connects and fences: the coordinator aborts any transaction an earlier writer with this
   * transactional id left open and refuses that writer from now on. Only after this is the
   * responses topic read to find what is already answered.
   */
  static async open(stream: Stream, topicName: string, transactionalId: string) {
    const producer = stream.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    try {
      await producer.connect();
      const fence = await producer.transaction();
      await fence.abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw new RpcError(
        Code.UNAVAILABLE,
        `could not start writing to ${topicName} as ${transactionalId}: ${(err as Error).message}`,
        err,
      );
    }
    return new ResponseWriter(producer, topic(topicName, ResponseSchema), transactionalId);
  }

  /**
   * Writes one batch's responses, keyed by prompt id, and the offsets of the prompts they
   * answer, in one transaction. A failure aborts it; ABORTED when another writer took over.
   * While the coordinator still completes the previous transaction it answers
   * CONCURRENT_TRANSACTIONS; the transaction is then aborted and made again after a pause.
   */
  async commit(responses: readonly Response[], offsets?: ConsumedOffsets): Promise<void> {
    if (responses.length === 0 && !offsets) return;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.commitOnce(responses, offsets);
      } catch (err) {
        if (attempt >= CONCURRENT_RETRIES || !isConcurrentTransaction(err)) throw err;
        await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
      }
    }
  }

  private async commitOnce(responses: readonly Response[], offsets?: ConsumedOffsets) {
    const span = tracer.startSpan(`send ${this.topic.name}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': this.topic.name,
        'messaging.batch.message_count': responses.length,
      },
    });
    const spanContext = trace.setSpan(context.active(), span);
    const transaction = await this.producer.transaction();
    try {
      if (responses.length > 0) {
        await transaction.send({
          topic: this.topic.name,
          acks: -1,
          messages: responses.map((r) => ({
            key: r.promptId,
            value: encodeValue(ResponseSchema, r),
            headers: injectContext({}, spanContext),
          })),
        });
      }
      if (offsets) {
        await transaction.sendOffsets({
          consumerGroupId: offsets.groupId,
          topics: [{ topic: offsets.topic,
            partitions: [{ partition: offsets.partition, offset: offsets.offset }] }],
        });
      }
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      if (isFenced(err)) {
        throw new RpcError(
          Code.ABORTED,
          `another generation job writes the responses of this run and model ` +
            `(${this.transactionalId}); this one stopped`,
          err,
        );
      }
      // The broker answers a transaction that meets a fence in progress with an unexpected
      // error rather than a fencing one. Some kafkajs paths rethrow it without its type, so its
      // message (the protocol's text for UNKNOWN_SERVER_ERROR) is matched too.
      if (errorChain(err).some((e) => (e as { type?: string }).type === 'UNKNOWN_SERVER_ERROR' ||
        /unexpected error when processing the request/iu.test(e.message))) {
        throw new RpcError(
          Code.ABORTED,
          `the broker refused the transaction of ${this.transactionalId} ` +
            `(${(err as Error).message}); another generation job for this run and model may ` +
            'have taken over; start this job again to continue',
          err,
        );
      }
      throw new RpcError(
        Code.UNAVAILABLE,
        `writing ${responses.length} response(s) to ${this.topic.name} failed: ` +
          (err as Error).message,
        err,
      );
    } finally {
      span.end();
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
