// One pairing job from start to end: take over the job's transactional id, rebuild its join
// from the state topic, import a response file if asked, run the pairing loop (pairing-loop.ts),
// then export. A crash anywhere resumes from the last committed transaction: nothing lost,
// nothing twice. The loop itself, and what a transaction holds, live in pairing-loop.ts.
import { clone } from '@bufbuild/protobuf';
import {
  PairSchema, PairingStatusSchema, ResponseSchema, type PairingJob, type PairingStatus,
} from '@delta/contracts';
import type { ProgressUpdate, RunningJob } from '@delta/jobs';
import { Code, RpcError } from '@delta/rpc';
import type { ServiceContext } from '@delta/service';
import { StreamError, output, topic, type Topic } from '@delta/stream';
import { DELTA_JOB_ID, DELTA_RUN_ID } from '@delta/telemetry';
import { trace } from '@opentelemetry/api';
import type { Kafka } from 'kafkajs';
import type { PairerConfig } from './config.js';
import { readJobPairs, writeExport } from './export.js';
import { readImport } from './importer.js';
import type { JoinState } from './join.js';
import { pairerMetrics, type PairerMetrics } from './metrics.js';
import { PairingLoop, type LoopHost } from './pairing-loop.js';
import {
  STATE_TOPIC_CONFIG, restoreState, stateTopics, statusOutput, type StateTopics,
} from './state-topic.js';
import { TransactionalWriter } from './writer.js';

const tracer = trace.getTracer('delta-pairer');
/** Restarts of the loop in a row, none committing anything, before the job fails. */
const MAX_RESTARTS = 5;

/** Kafka names of one job: its state topic, and its consumer group and transactional id. */
export interface JobNames {
  stateTopic: string;
  groupId: string;
  transactionalId: string;
}

/** The Kafka names of job `jobId`; stable, so a resumed job finds its state and offsets. */
export function jobNames(jobId: string, config: Pick<PairerConfig, 'stateTopicPrefix' |
  'groupPrefix'>): JobNames {
  return {
    stateTopic: `${config.stateTopicPrefix}.${jobId}`,
    groupId: `${config.groupPrefix}.${jobId}`,
    transactionalId: `${config.groupPrefix}.${jobId}`,
  };
}

/** Normalises what a job throws into an RpcError a client can act on. */
function jobError(err: unknown): unknown {
  if (!(err instanceof StreamError)) return err;
  if (err.code === 'DECODE') {
    return new RpcError(Code.FAILED_PRECONDITION, `${err.message}; remove or skip the record`, err);
  }
  return new RpcError(err.retriable ? Code.UNAVAILABLE : Code.INTERNAL,
    `Kafka: ${err.message}`, err);
}

/** Runs one pairing job; resolves when it finished, was cancelled or is interrupted. */
export async function runPairingJob(
  job: RunningJob<PairingJob>,
  ctx: ServiceContext,
  config: PairerConfig,
): Promise<void> {
  try {
    await new PairingRun(job, ctx, config).run();
  } catch (err) {
    throw jobError(err);
  }
}

/** A job's run: its topics and names, the committed join, and the steps around the loop. */
class PairingRun implements LoopHost {
  private readonly kafka: Kafka;
  readonly names: JobNames;
  readonly state: StateTopics;
  readonly responses: Topic<typeof ResponseSchema>;
  readonly pairs: Topic<typeof PairSchema>;
  readonly metrics: PairerMetrics;
  private readonly readOptions;
  join!: JoinState;

  constructor(
    readonly job: RunningJob<PairingJob>,
    readonly ctx: ServiceContext,
    readonly config: PairerConfig,
  ) {
    this.kafka = ctx.stream.kafka;
    this.names = jobNames(job.jobId, config);
    this.state = stateTopics(this.names.stateTopic);
    this.responses = topic(job.spec.responsesTopic, ResponseSchema);
    this.pairs = topic(job.spec.pairsTopic, PairSchema);
    this.metrics = pairerMetrics(ctx.telemetry.meter());
    this.readOptions = { groupPrefix: this.names.groupId, timeoutMs: config.readTimeoutMs };
  }

  async run(): Promise<void> {
    const { spec } = this.job;
    this.stage('preparing topics');
    const admin = this.ctx.stream.admin();
    try {
      await admin.ensureTopics([
        { topic: this.responses, partitions: this.config.topicPartitions },
        { topic: this.pairs, partitions: this.config.topicPartitions },
        { topic: this.state.name, partitions: 1, config: { ...STATE_TOPIC_CONFIG } },
      ]);
    } finally {
      await admin.disconnect();
    }

    // Taking over the transactional id waits until the last transaction anyone made with it
    // is complete (its markers written), so the state topic read next holds exactly what
    // committed, and the end offsets the loop reads include an import just written. The loop
    // asks for this again when one of its transactions failed.
    let importDone = !spec.import;
    let restarts = 0;
    for (;;) {
      this.stage('restoring state');
      const writer = new TransactionalWriter(this.kafka, this.names.transactionalId);
      let failed: Error | undefined;
      try {
        await writer.fence();
        await this.restore();
        if (!importDone && !this.join.finished) {
          const before = this.join.status.responsesImported;
          try {
            await this.importFile(writer);
            importDone = !this.job.signal.aborted;
          } catch (err) {
            if (!(err instanceof StreamError && err.code === 'TRANSACTION')) throw err;
            failed = err;
          }
          restarts = this.join.status.responsesImported > before ? 0 : restarts;
          if (importDone) continue;
        }
      } finally {
        await writer.disconnect();
      }
      if (this.job.signal.aborted || this.join.finished) break;
      if (!failed) {
        const loop = new PairingLoop(this);
        if (await loop.run() === 'done') break;
        if (loop.commits > 0) restarts = 0;
        failed = loop.lastError ?? new Error('a transaction failed; see the service log');
      }
      restarts += 1;
      if (restarts > MAX_RESTARTS) {
        throw new RpcError(Code.UNAVAILABLE, `the job's transactions failed ${restarts} times ` +
          `in a row without progress (${failed.message})`, failed);
      }
      this.stage(`restarting after a failed transaction (${restarts} in a row)`);
      await this.pause(this.config.restartBackoffMs * 2 ** (restarts - 1));
    }
    await this.end();
  }

  /** Exports when the job finished or was cancelled; an interrupted job exports on resume. */
  private async end(): Promise<void> {
    const cancelled = this.job.signal.aborted && this.job.signal.reason !== 'shutdown';
    if (!this.job.spec.exportFile || !(this.join?.finished || cancelled)) return;
    this.stage('exporting');
    await tracer.startActiveSpan('pairer export', { attributes: this.ids() }, async (span) => {
      try {
        const pairs = await readJobPairs(this.kafka, this.pairs.name, this.job.jobId,
          this.readOptions);
        const lines = await writeExport(this.job.spec.exportFile, pairs);
        span.setAttribute('delta.pairer.lines', lines);
        this.stage(`exported ${lines} pairs`);
      } finally {
        span.end();
      }
    });
  }

  /** Rebuilds the join from the state topic and shows its counters. */
  async restore(): Promise<void> {
    await tracer.startActiveSpan('pairer restore', { attributes: this.ids() }, async (span) => {
      try {
        this.join = await restoreState(this.kafka, this.state, this.readOptions);
        span.setAttribute('delta.pairer.pending', this.join.pending.size);
      } finally {
        span.end();
      }
    });
    this.publish(this.join.status);
  }

  /**
   * Writes the import file's responses to the responses topic, a chunk per transaction with
   * the count so far on the state topic; a resumed import continues after that count.
   */
  private async importFile(writer: TransactionalWriter): Promise<void> {
    const { file, format } = this.job.spec.import!;
    const records = await readImport(file, format, this.job.runId, this.config.importMaxBytes);
    let done = Number(this.join.status.responsesImported);
    if (done >= records.length) return;
    await tracer.startActiveSpan('pairer import', { attributes: this.ids() }, async (span) => {
      try {
        while (done < records.length && !this.job.signal.aborted) {
          const chunk = records.slice(done, done + this.config.importChunk);
          const status = clone(PairingStatusSchema, this.join.status);
          status.responsesImported = BigInt(done + chunk.length);
          await writer.commit([
            output(this.responses, chunk.map((r) => ({ key: r.promptId, value: r }))),
            statusOutput(this.state, status),
          ]);
          done += chunk.length;
          this.join.status = status;
          this.metrics.imported.add(chunk.length);
          this.publish(status, { done, total: records.length, unit: 'responses',
            stage: 'importing' });
        }
        span.setAttribute('delta.pairer.imported', done);
      } finally {
        span.end();
      }
    });
  }

  /** Copies counters into the job's status and publishes progress. */
  publish(status: PairingStatus, progress?: ProgressUpdate): void {
    const s = this.job.status;
    s.responsesRead = status.responsesRead;
    s.pairsWritten = status.pairsWritten;
    s.promptsPending = status.promptsPending;
    s.responsesImported = status.responsesImported;
    for (const key of Object.keys(s.dropped)) delete s.dropped[key];
    Object.assign(s.dropped, status.dropped);
    this.job.report(progress);
  }

  stage(stage: string): void {
    this.job.report({ stage });
  }

  /** Waits about `ms` (with jitter, so replicas do not retry in step); a cancel cuts it short. */
  private pause(ms: number): Promise<void> {
    const signal = this.job.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms * (0.8 + 0.4 * Math.random()));
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private ids() {
    return { [DELTA_RUN_ID]: this.job.runId, [DELTA_JOB_ID]: this.job.jobId };
  }
}
