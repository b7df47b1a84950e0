// The four kinds of job and how each maps onto the JobRecord stored on the jobs topic. A job
// message of every service has the same three fields: meta, spec and status.
import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  EvaluationJobSchema,
  EvaluationStatusSchema,
  GenerationJobSchema,
  GenerationStatusSchema,
  JobRecordSchema,
  PairingJobSchema,
  PairingStatusSchema,
  TrainingJobSchema,
  TrainingStatusSchema,
  type EvaluationJob,
  type GenerationJob,
  type JobRecord,
  type PairingJob,
  type TrainingJob,
} from '@delta/contracts';

/** Any service's job message. */
export type AnyJob = GenerationJob | PairingJob | TrainingJob | EvaluationJob;

/** Describes one kind of job: its message types and its place inside a JobRecord. */
export interface JobKind<J extends AnyJob> {
  readonly name: 'generation' | 'pairing' | 'training' | 'evaluation';
  readonly jobSchema: DescMessage;
  readonly statusSchema: DescMessage;
  /** Wraps a job into the record the jobs topic stores. */
  toRecord(job: J): JobRecord;
  /** Unwraps a stored record; undefined when it holds another kind of job. */
  fromRecord(record: JobRecord): J | undefined;
}

type SpecOf<J extends AnyJob> = NonNullable<J['spec']>;
type StatusOf<J extends AnyJob> = NonNullable<J['status']>;

function kind<J extends AnyJob>(
  name: JobKind<J>['name'],
  jobSchema: DescMessage,
  statusSchema: DescMessage,
  specCase: string,
  statusCase: string,
): JobKind<J> {
  return {
    name,
    jobSchema,
    statusSchema,
    toRecord(job) {
      return create(JobRecordSchema, {
        meta: job.meta,
        spec: { case: specCase, value: job.spec } as JobRecord['spec'],
        status: { case: statusCase, value: job.status } as JobRecord['status'],
      });
    },
    fromRecord(record) {
      if (record.spec.case !== specCase) return undefined;
      const status = record.status.case === statusCase
        ? record.status.value as StatusOf<J>
        : create(statusSchema) as StatusOf<J>;
      return create(jobSchema, {
        meta: record.meta,
        spec: record.spec.value as SpecOf<J>,
        status,
      } as never) as MessageShape<DescMessage> as unknown as J;
    },
  };
}

/** Generator jobs. */
export const GENERATION: JobKind<GenerationJob> = kind(
  'generation', GenerationJobSchema, GenerationStatusSchema, 'generation', 'generationStatus');
/** Pairer jobs. */
export const PAIRING: JobKind<PairingJob> = kind(
  'pairing', PairingJobSchema, PairingStatusSchema, 'pairing', 'pairingStatus');
/** Trainer jobs. */
export const TRAINING: JobKind<TrainingJob> = kind(
  'training', TrainingJobSchema, TrainingStatusSchema, 'training', 'trainingStatus');
/** Evaluator jobs. */
export const EVALUATION: JobKind<EvaluationJob> = kind(
  'evaluation', EvaluationJobSchema, EvaluationStatusSchema, 'evaluation', 'evaluationStatus');
