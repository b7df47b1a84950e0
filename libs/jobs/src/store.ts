// Where job records outlive a process. The Kafka store (the compacted jobs topic) is the one
// services use; the memory store serves tests and single-process tools.
import { clone } from '@bufbuild/protobuf';
import { JobRecordSchema, type JobRecord } from '@delta/contracts';

/** Persists the latest record of each job, keyed by job id. */
export interface JobStore {
  /** Writes the job's latest state; later writes for the same id replace earlier ones. */
  save(record: JobRecord): Promise<void>;
  /** The latest record of one job, or undefined. */
  get(jobId: string): Promise<JobRecord | undefined>;
  /** The latest record of every job the store holds. */
  list(): Promise<JobRecord[]>;
}

/** A store that lives as long as the process: for tests and tools without a broker. */
export class MemoryJobStore implements JobStore {
  private readonly records = new Map<string, JobRecord>();

  async save(record: JobRecord): Promise<void> {
    const jobId = record.meta?.jobId;
    if (!jobId) throw new Error('job record without meta.job_id');
    this.records.set(jobId, clone(JobRecordSchema, record));
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const record = this.records.get(jobId);
    return record && clone(JobRecordSchema, record);
  }

  async list(): Promise<JobRecord[]> {
    return [...this.records.values()].map((r) => clone(JobRecordSchema, r));
  }
}
