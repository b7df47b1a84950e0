// The consume-transform-produce loop of a pairing job. Each batch of responses is joined in a
// JoinStep, and one Kafka transaction carries the pairs it decided, the join's changes on the
// state topic and the batch's input offsets. Prompts that time out, and those still waiting at
// the end of input, resolve in transactions of their own that never overlap a batch's.
import type {
  Pair, PairSchema, PairingJob, PairingStatus, ResponseSchema,
} from '@delta/contracts';
import type { ProgressUpdate, RunningJob } from '@delta/jobs';
import { Code, RpcError } from '@delta/rpc';
import type { ServiceContext } from '@delta/service';
import { output, type Output, type Topic } from '@delta/stream';
import { DELTA_JOB_ID, DELTA_PAIR_ID, DELTA_PROMPT_ID, DELTA_RUN_ID } from '@delta/telemetry';
import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { splitBySize } from './batching.js';
import type { PairerConfig } from './config.js';
import { JoinStep, type JoinState } from './join.js';
import type { PairerMetrics } from './metrics.js';
import type { JobNames } from './pairing-job.js';
import { policyOf } from './spec.js';
import { stepOutputs, type StateTopics } from './state-topic.js';

/** What the loop needs from the job it runs in. */
export interface LoopHost {
  readonly job: RunningJob<PairingJob>;
  readonly ctx: ServiceContext;
  readonly config: PairerConfig;
  readonly names: JobNames;
  readonly state: StateTopics;
  readonly responses: Topic<typeof ResponseSchema>;
  readonly pairs: Topic<typeof PairSchema>;
  readonly metrics: PairerMetrics;
  /** The committed join; replaced by restore(). */
  join: JoinState;
  /** Rebuilds `join` from the state topic. */
  restore(): Promise<void>;
  /** Shows committed counters (and progress) on the job. */
  publish(status: PairingStatus, progress?: ProgressUpdate): void;
  stage(stage: string): void;
}

const tracer = trace.getTracer('delta-pairer');

/**
 * Headers that put a pair in the trace of its chosen response (so one trace follows a prompt
 * from generation to its pair): a `pair` span, child of that response's producer span and
 * linked to the batch being handled. None when the response came without trace context.
 */
function continueTrace(pair: Pair, traceparent: string): { headers?: Record<string, string> } {
  if (!traceparent) return {};
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent });
  const batch = trace.getActiveSpan()?.spanContext();
  const span = tracer.startSpan('pair', {
    attributes: { [DELTA_RUN_ID]: pair.runId, [DELTA_PROMPT_ID]: pair.promptId,
      [DELTA_PAIR_ID]: pair.pairId },
    links: batch ? [{ context: batch }] : [],
  }, parent);
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  span.end();
  return headers.traceparent ? { headers } : {};
}

/** Offsets of one partition of the responses topic, for batch (until_end) jobs. */
interface Span {
  start: bigint;
  end: bigint;
  position: bigint;
}

/** Why the loop returned: its work is over (done, cancelled, interrupted), or it must restart. */
export type LoopOutcome = 'done' | 'restart';

/**
 * The consume-transform-produce loop. A batch's changes go to a JoinStep; the step is applied
 * to the join only after its transaction committed. A step left unapplied means a transaction
 * failed or its outcome is unknown: the loop then stops and asks to be restarted, after the
 * job has taken over its transactional id again and rebuilt the join from the state topic,
 * which holds exactly what committed.
 */
export class PairingLoop {
  private staged: JoinStep | undefined;
  private spans: Map<number, Span> | undefined;
  private failure: unknown;
  private restart = false;
  private wake: () => void = () => {};
  /** Transactions this loop committed; a restart after none means no progress. */
  commits = 0;
  /** The failure that made the loop ask for a restart, when it saw one. */
  lastError: Error | undefined;

  constructor(private readonly host: LoopHost) {}

  async run(): Promise<LoopOutcome> {
    const { job, ctx, config, names, state, responses, pairs } = this.host;
    const { spec } = job;
    const policy = policyOf(spec);
    const joinCtx = { policy, runId: job.runId, jobId: job.jobId };
    if (spec.untilEnd) this.spans = await this.offsets(names.groupId);
    this.host.stage('pairing');

    const begin = (): JoinStep => {
      if (this.staged || this.restart) {
        this.restart = true;
        this.wake();
        throw new Error('a transaction of this job failed; the job restarts from its state topic');
      }
      return new JoinStep(this.host.join, joinCtx);
    };
    const outputs = (step: JoinStep): Output[] => splitBySize([
      output(pairs, step.pairs.map((p, i) => ({ key: p.promptId, value: p,
        ...continueTrace(p, step.pairTraces[i]!) }))),
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
        const step = begin();
        const now = Date.now();
        let skipped = 0;
        for (const record of records) {
          if (!step.add(record.value, now, record.headers.traceparent)) skipped += 1;
        }
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
      onCrash: (error) => {
        if (error.code !== 'TRANSACTION') return this.fail(error);
        this.lastError = error;
        this.restart = true;
        this.wake();
      },
    });

    // Time up for prompts still missing a side (streaming jobs, or batch jobs with a timeout).
    const timeout = spec.missingSideTimeoutMs;
    const ticker = timeout > 0 ? setInterval(() => {
      let oldest = Infinity;
      for (const pending of this.host.join.pending.values()) oldest = Math.min(oldest, pending.since);
      if (!(Date.now() - oldest >= timeout)) return;
      transactor.transact(() => {
        const step = begin();
        step.expire(Date.now(), timeout);
        this.staged = step;
        return outputs(step);
      }, () => this.commit()).catch((err) => {
        ctx.logger.warn({ err }, 'resolving timed-out prompts failed');
      });
    }, Math.min(1000, Math.max(50, Math.floor(timeout / 4)))) : undefined;

    try {
      this.checkEnd();
      await stopped;
      if (this.failure) throw this.failure;
      if (this.restart || job.signal.aborted || !this.reachedEnd()) {
        return this.restart && !job.signal.aborted ? 'restart' : 'done';
      }
      this.host.stage('resolving prompts still missing a side');
      await transactor.transact(() => {
        const step = begin();
        step.finish();
        this.staged = step;
        return outputs(step);
      }, () => this.commit());
      return 'done';
    } catch (err) {
      if ((this.restart || this.staged) && !this.failure) {
        this.lastError ??= err as Error;
        return 'restart';
      }
      throw err;
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
    this.commits += 1;
    const before = this.host.join.status;
    this.host.join.apply(step);
    this.host.metrics.record(before, step.status, step.pairs.length);
    this.host.publish(step.status, this.progress());
  }

  private progress() {
    if (!this.spans) {
      return { done: Number(this.host.join.status.responsesRead), unit: 'responses' };
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
    const { ctx, responses } = this.host;
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
