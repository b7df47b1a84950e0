// The job store services use: the compacted jobs topic, keyed by job id, holds the latest
// JobRecord of every job. Each instance keeps a view of the whole topic in memory, so any
// replica answers get and watch for any job. It does not lock: one owner writes each job.
import { randomUUID } from 'node:crypto';
import { clone, fromBinary } from '@bufbuild/protobuf';
import { JOBS_TOPIC, JobRecordSchema, type JobRecord } from '@delta/contracts';
import { JOBS_TOPIC_CONFIG, StreamError, topic, type Stream, type StreamProducer, type Topic } from '@delta/stream';
import type { Consumer } from 'kafkajs';
import type { JobStore } from './store.js';

export interface KafkaJobStoreOptions {
  /** Topic name; defaults to delta.jobs. It is created compacted when missing. */
  topic?: string;
  /** How long open() waits to read the topic up to its end. Default 30 s. */
  catchUpTimeoutMs?: number;
}

/** JobStore on the compacted jobs topic. Create it with KafkaJobStore.open(). */
export class KafkaJobStore implements JobStore {
  private readonly records = new Map<string, JobRecord>();
  private readonly groupId = `delta.jobs.view.${randomUUID()}`;
  private consumer: Consumer | undefined;
  private producer: StreamProducer | undefined;

  private constructor(
    private readonly stream: Stream,
    private readonly jobs: Topic<typeof JobRecordSchema>,
  ) {}

  /** Ensures the topic, reads it to its end, and keeps following it. */
  static async open(stream: Stream, options: KafkaJobStoreOptions = {}): Promise<KafkaJobStore> {
    const jobs = topic(options.topic ?? JOBS_TOPIC, JobRecordSchema);
    const admin = stream.admin();
    try {
      await admin.ensureTopics([{ topic: jobs, partitions: 1, config: { ...JOBS_TOPIC_CONFIG } }]);
      const ends = await admin.endOffsets(jobs);
      const store = new KafkaJobStore(stream, jobs);
      await store.follow(ends, options.catchUpTimeoutMs ?? 30_000);
      store.producer = stream.producer();
      await store.producer.connect();
      return store;
    } finally {
      await admin.disconnect();
    }
  }

  async save(record: JobRecord): Promise<void> {
    const jobId = record.meta?.jobId;
    if (!jobId) throw new StreamError('CONFIG', 'job record without meta.job_id');
    this.records.set(jobId, clone(JobRecordSchema, record));
    await this.producer!.send(this.jobs, [{ key: jobId, value: record }]);
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const record = this.records.get(jobId);
    return record && clone(JobRecordSchema, record);
  }

  async list(): Promise<JobRecord[]> {
    return [...this.records.values()].map((r) => clone(JobRecordSchema, r));
  }

  /** Stops following the topic and removes this view's consumer group. */
  async close(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    const admin = this.stream.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([this.groupId]);
    } catch {
      // The group expires on its own; failing to delete it early loses nothing.
    } finally {
      await admin.disconnect();
    }
  }

  /** Reads from the oldest record; resolves once every partition reached its end offset. */
  private async follow(ends: Map<number, bigint>, timeoutMs: number): Promise<void> {
    const behind = new Map([...ends].filter(([, end]) => end > 0n));
    let caughtUp: () => void = () => {};
    const ready = new Promise<void>((resolve) => { caughtUp = resolve; });
    if (behind.size === 0) caughtUp();

    this.consumer = this.stream.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 500 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.jobs.name], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString();
        if (key) {
          if (message.value === null) this.records.delete(key);
          else if (!this.records.has(key) || behind.size > 0) {
            this.records.set(key, fromBinary(JobRecordSchema, message.value));
          } else {
            // A record this instance wrote is already in the view; a newer write from another
            // instance replaces it only if it is not older.
            const incoming = fromBinary(JobRecordSchema, message.value);
            const current = this.records.get(key)!;
            if (stamp(incoming) >= stamp(current)) this.records.set(key, incoming);
          }
        }
        const end = behind.get(partition);
        if (end !== undefined && BigInt(message.offset) + 1n >= end) {
          behind.delete(partition);
          if (behind.size === 0) caughtUp();
        }
      },
    });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StreamError('CONNECTION',
        `reading ${this.jobs.name} to its end took over ${timeoutMs} ms`, { retriable: true })),
      timeoutMs);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (err) {
      await this.consumer.disconnect();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

function stamp(record: JobRecord): bigint {
  const at = record.meta?.updatedAt;
  return at ? at.seconds * 1_000_000_000n + BigInt(at.nanos) : 0n;
}
