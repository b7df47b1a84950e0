// A job's transactional producer outside the consume-transform-produce loop: it fences the
// job's previous instance (aborting a transaction a killed process left open) and writes the
// import, each chunk in a transaction with the state record that says how far the import got.
// It shares the job's transactional id, so it must be disconnected before the loop starts.
import { encodeValue, injectContext, StreamError, type Output } from '@delta/stream';
import kafkajs, { type Kafka, type Producer } from 'kafkajs';
import { splitBySize } from './batching.js';

/** The job's transactional producer for fencing and imports. */
export class TransactionalWriter {
  private readonly producer: Producer;

  constructor(kafka: Kafka, private readonly transactionalId: string) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      allowAutoTopicCreation: false,
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
  }

  /**
   * Connects and takes over the transactional id: the broker aborts any transaction an earlier
   * holder left open and refuses that holder's further writes.
   */
  async fence(): Promise<void> {
    try {
      await this.producer.connect();
      const transaction = await this.producer.transaction();
      await transaction.abort();
    } catch (err) {
      throw new StreamError('TRANSACTION',
        `could not take over transactional id ${this.transactionalId}: ${(err as Error).message}`,
        { cause: err, retriable: true });
    }
  }

  /** Writes the outputs in one transaction; aborts it on any failure. */
  async commit(outputs: readonly Output[]): Promise<void> {
    const transaction = await this.producer.transaction();
    try {
      for (const out of splitBySize(outputs)) {
        if (out.records.length === 0) continue;
        await transaction.send({
          topic: out.topic.name,
          acks: -1,
          messages: out.records.map((r) => ({
            key: r.key,
            value: r.value === null ? null : encodeValue(out.topic.schema, r.value),
            headers: injectContext({ ...r.headers }),
          })),
        });
      }
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      throw new StreamError('TRANSACTION', `an import transaction was aborted: ${
        (err as Error).message}`, { cause: err, retriable: true });
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
