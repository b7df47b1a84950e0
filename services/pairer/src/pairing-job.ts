// One pairing job from start to end: take over the job's transactional id, rebuild its join
// from the state topic, import a response file if asked, then join responses into pairs in a
// consume-transform-produce loop whose every transaction carries the pairs, the join's changes
// and the input offsets together; at the end of input resolve what still waits, then export.
// A crash anywhere resumes from the last committed transaction: nothing lost, nothing twice.
import { clone } from '@bufbuild/protobuf';
import {
  PairSchema, PairingStatusSchema, ResponseSchema, type PairingJob, type PairingStatus,
} from '@delta/contracts';
import type { RunningJob } from '@delta/jobs';
import { Code, RpcError } from '@delta/rpc';
import type { ServiceContext } from '@delta/service';
import { StreamError, output, topic, type Output } from '@delta/stream';
import { DELTA_JOB_ID, DELTA_RUN_ID } from '@delta/telemetry';
import { trace } from '@opentelemetry/api';
import type { Kafka } from 'kafkajs';
import { splitBySize } from './batching.js';
import type { PairerConfig } from './config.js';
import { readJobPairs, writeExport } from './export.js';
import { readImport } from './importer.js';
import { JoinStep, type JoinState } from './join.js';
import { pairerMetrics, type PairerMetrics } from './metrics.js';
import { policyOf } from './spec.js';
import {
  STATE_TOPIC_CONFIG, restoreState, stateTopics, statusOutput, stepOutputs, type StateTopics,
} from './state-topic.js';
import { TransactionalWriter } from './writer.js';

const tracer = trace.getTracer('delta-pairer');

/** Kafka names of one job: its state topic, and its consumer group and transactional id. */
export function jobNames(jobId: string, config: PairerConfig) {
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

class PairingRun {
  private readonly kafka: Kafka;
  private readonly names: ReturnType<typeof jobNames>;
  private readonly state: StateTopics;
  private readonly responses;
  private readonly pairs;
  private readonly metrics: PairerMetrics;
  private readonly readOptions;
  private join!: JoinState;

  constructor(
    private readonly job: RunningJob<PairingJob>,
    private readonly ctx: ServiceContext,
    private readonly config: PairerConfig,
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

    // Fence first: a killed instance's open transaction would hold back every read below.
    this.stage('restoring state');
    const writer = new TransactionalWriter(this.kafka, this.names.transactionalId);
    try {
      await writer.fence();
      await this.restore();
      if (spec.import && !this.join.finished) await this.importFile(writer);
    } finally {
      await writer.disconnect();
    }
    if (this.job.signal.aborted) return this.end();

    if (!this.join.finished) await new PairingLoop(this).run();
    await this.end();
  }

  /** Exports when the job finished or was cancelled; an interrupted job exports on resume. */
  private async end(): Promise<void> {
    const cancelled = this.job.signal.aborted && this.job.signal.reason !== 'shutdown';
    if (!this.job.spec.exportFile || !(this.join?.finished || cancelled)) return;
    this.stage('exporting');
    await tracer.startActiveSpan('pairer export', async (span) => {
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
    await tracer.startActiveSpan('pairer restore', async (span) => {
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
    await tracer.startActiveSpan('pairer import', {
      attributes: { [DELTA_RUN_ID]: this.job.runId, [DELTA_JOB_ID]: this.job.jobId },
    }, async (span) => {
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
  publish(status: PairingStatus, progress?: Parameters<RunningJob<PairingJob>['report']>[0]) {
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

  // Accessors for the loop, which shares this run's topics and state.
  get parts() {
    return {
      job: this.job, ctx: this.ctx, config: this.config, names: this.names, state: this.state,
      responses: this.responses, pairs: this.pairs, metrics: this.metrics,
    };
  }
  get current(): JoinState {
    return this.join;
  }
  set current(join: JoinState) {
    this.join = join;
  }
}

/** Offsets of one partition of the responses topic, for batch (until_end) jobs. */
interface Span {
  start: bigint;
  end: bigint;
  position: bigint;
}

/**
 * The consume-transform-produce loop. A batch's changes go to a JoinStep; the step is applied
 * to the join only after its transaction committed. A step left unapplied means a transaction
 * failed or its outcome is unknown, so the next step first rebuilds the join from the state
 * topic, which holds exactly what committed.
 */
class PairingLoop {
  private staged: JoinStep | undefined;
  private spans: Map<number, Span> | undefined;
  private failure: unknown;
  private wake: () => void = () => {};

  constructor(private readonly owner: PairingRun) {}

  async run(): Promise<void> {
    const { job, ctx, config, names, state, responses, pairs } = this.owner.parts;
    const { spec } = job;
    const policy = policyOf(spec);
    const joinCtx = { policy, runId: job.runId, jobId: job.jobId };
    if (spec.untilEnd) this.spans = await this.offsets(names.groupId);
    this.owner.stage('pairing');

    const begin = async (): Promise<JoinStep> => {
      if (this.staged) {
        this.staged = undefined;
        await this.owner.restore();
      }
      return new JoinStep(this.owner.current, joinCtx);
    };
    const outputs = (step: JoinStep): Output[] => splitBySize([
      output(pairs, step.pairs.map((p) => ({ key: p.promptId, value: p }))),
      ...stepOutputs(state, step),
    ]);

    const transactor = ctx.stream.transactor({
      groupId: names.groupId,
      transactionalId: names.transactionalId,
      maxBytesPerPartition: config.fetchMaxBytes,
      sessionTimeoutMs: config.sessionTimeoutMs,
    });
    const stopped = new Promise<void>((resolve) => { this.wake = resolve; });
    const onAbort = () => this.wake();
    job.signal.addEventListener('abort', onAbort, { once: true });

    await transactor.run({
      topics: [responses],
      fromBeginning: true,
      transform: async (records) => {
        const step = await begin();
        const now = Date.now();
        let skipped = 0;
        for (const record of records) if (!step.add(record.value, now)) skipped += 1;
        if (step.pendingCount() > config.maxPending) {
          this.fail(new RpcError(Code.RESOURCE_EXHAUSTED, `${step.pendingCount()} prompts wait ` +
            `for a side, above DELTA_PAIRER_MAX_PENDING=${config.maxPending}; set ` +
            'spec.missing_side_timeout_ms or raise the limit'));
          throw new Error('too many pending prompts');
        }
        trace.getActiveSpan()?.setAttributes({
          [DELTA_RUN_ID]: job.runId, [DELTA_JOB_ID]: job.jobId,
          'delta.pairer.pairs': step.pairs.length, 'delta.pairer.other_runs': skipped,
        });
        this.staged = step;
        return outputs(step);
      },
      onCommitted: () => this.commit(),
      onPosition: ({ partition, position }) => this.advance(partition, BigInt(position)),
      onCrash: (error) => this.fail(error),
    });

    // Time up for prompts still missing a side (streaming jobs, or batch jobs with a timeout).
    const timeout = spec.missingSideTimeoutMs;
    const ticker = timeout > 0 ? setInterval(() => {
      const oldest = Math.min(...[...this.owner.current.pending.values()].map((p) => p.since));
      if (!(Date.now() - oldest >= timeout)) return;
      transactor.transact(async () => {
        const step = await begin();
        step.expire(Date.now(), timeout);
        this.staged = step;
        return outputs(step);
      }, () => this.commit()).catch((err) => {
        ctx.logger.warn({ err }, 'resolving timed-out prompts failed; the next tick retries');
      });
    }, Math.min(1000, Math.max(50, Math.floor(timeout / 4)))) : undefined;

    try {
      this.checkEnd();
      await stopped;
      if (this.failure) throw this.failure;
      if (this.reachedEnd() && !job.signal.aborted) {
        this.owner.stage('resolving prompts still missing a side');
        await transactor.transact(async () => {
          const step = await begin();
          step.finish();
          this.staged = step;
          return outputs(step);
        }, () => this.commit());
      }
    } finally {
      clearInterval(ticker);
      job.signal.removeEventListener('abort', onAbort);
      await transactor.disconnect();
    }
  }

  /** Applies the staged step, whose transaction just committed. */
  private commit(): void {
    const step = this.staged;
    if (!step) return;
    this.staged = undefined;
    const before = this.owner.current.status;
    this.owner.current.apply(step);
    this.owner.parts.metrics.record(before, step.status, step.pairs.length);
    this.owner.publish(step.status, this.progress());
  }

  private progress() {
    if (!this.spans) {
      return { done: Number(this.owner.current.status.responsesRead), unit: 'responses' };
    }
    let done = 0n;
    let total = 0n;
    for (const s of this.spans.values()) {
      total += s.end - s.start;
      done += (s.position < s.end ? s.position : s.end) - s.start;
    }
    return { done: Number(done), total: Number(total), unit: 'responses' };
  }

  private advance(partition: number, position: bigint): void {
    const span = this.spans?.get(partition);
    if (span && position > span.position) span.position = position;
    this.checkEnd();
  }

  private reachedEnd(): boolean {
    return this.spans !== undefined
      && [...this.spans.values()].every((s) => s.position >= s.end);
  }

  private checkEnd(): void {
    if (this.reachedEnd()) this.wake();
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.wake();
  }

  /**
   * Where the job starts on each partition (its committed offset, else the oldest record) and
   * where it stops: the last stable offsets now, after any import.
   */
  private async offsets(groupId: string): Promise<Map<number, Span>> {
    const { ctx, responses } = this.owner.parts;
    const admin = ctx.stream.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(responses.name);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [responses.name] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      return new Map(offsets.map((o) => {
        const low = BigInt(o.low);
        const c = at.get(o.partition) ?? -1n;
        const start = c >= 0n ? (c > low ? c : low) : low;
        return [o.partition, { start, end: BigInt(o.high), position: start }];
      }));
    } finally {
      await admin.disconnect();
    }
  }
}
