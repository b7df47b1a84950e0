// Runs the long jobs of one service with the pattern every Delta service shares: start returns
// a job id at once, watch streams the job's state until it ends, get reads it, cancel stops it.
// Every change is saved to a JobStore, so a restarted instance resumes the jobs it owns.
// It does not decide what a job does: the service passes a runner function.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { clone, create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  JobErrorSchema, JobMetaSchema, JobState, ProgressSchema, type Progress,
} from '@delta/contracts';
import { Code, RpcError, codeName } from '@delta/rpc';
import type { AnyJob, JobKind } from './kinds.js';
import type { JobStore } from './store.js';

type SpecOf<J extends AnyJob> = NonNullable<J['spec']>;
type StatusOf<J extends AnyJob> = NonNullable<J['status']>;

/** New progress figures; counts are plain numbers here and bigints on the wire. */
export interface ProgressUpdate {
  done?: number;
  total?: number;
  unit?: string;
  stage?: string;
}

/** What a runner sees of its job. */
export interface RunningJob<J extends AnyJob> {
  readonly jobId: string;
  readonly runId: string;
  readonly spec: SpecOf<J>;
  /** The job's status message; mutate it, then call report() so watchers see the change. */
  readonly status: StatusOf<J>;
  /** Aborted on cancel or shutdown; the runner stops soon after, keeping finished work. */
  readonly signal: AbortSignal;
  /** True when this run continues a job an earlier process started. */
  readonly resumed: boolean;
  /** W3C traceparent of the call that started the job; empty when none was traced. */
  readonly traceparent: string;
  /** Publishes the status and, when given, new progress figures. */
  report(progress?: ProgressUpdate): void;
}

/** Does a job's work; throws to fail it (an RpcError's code becomes the job error's code). */
export type JobRunner<J extends AnyJob> = (job: RunningJob<J>) => Promise<void>;

export interface JobManagerOptions<J extends AnyJob> {
  kind: JobKind<J>;
  run: JobRunner<J>;
  store: JobStore;
  /** Identity of this instance; a restart with the same owner resumes its jobs. */
  owner?: string;
  /** Jobs run at once; later ones wait in order. Default 1. */
  concurrency?: number;
  /** Least time between two saves of a job's progress. Default 1000 ms. */
  persistIntervalMs?: number;
  /** Called with failures the manager cannot hand to a caller (store writes, runner crashes). */
  onError?: (error: unknown, jobId: string) => void;
}

/** Request to start a job. */
export interface StartRequest<J extends AnyJob> {
  runId?: string;
  /** Client-chosen id: starting the same id twice returns the first job. */
  jobId?: string;
  spec: SpecOf<J>;
  traceparent?: string;
}

const TERMINAL = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

/** Whether a job has ended and will not change again. */
export function isTerminal(state: JobState): boolean {
  return TERMINAL.has(state);
}

interface Entry<J extends AnyJob> {
  job: J;
  controller: AbortController;
  resumed: boolean;
  startedAt: number;
  version: number;
  waiters: Array<() => void>;
  lastSaved: number;
  saveTimer: NodeJS.Timeout | undefined;
  done: Promise<void> | undefined;
}

const SHUTDOWN = 'shutdown';
const MAX_ENDED_IN_MEMORY = 500;
const CANCEL = 'cancel';

function withStage(progress: Progress | undefined, stage: string): Progress {
  const next = progress ? clone(ProgressSchema, progress) : create(ProgressSchema);
  next.stage = stage;
  return next;
}

/** A run id for jobs started without one: sortable by time, unique enough for one cluster. */
export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `run-${stamp}-${randomUUID().slice(0, 6)}`;
}

/** Keeps the jobs of one service: in memory while they run, in the store for good. */
export class JobManager<J extends AnyJob> {
  private readonly entries = new Map<string, Entry<J>>();
  private readonly queue: string[] = [];
  private running = 0;
  private closed = false;
  private saving: Promise<void> = Promise.resolve();
  private readonly owner: string;
  private readonly concurrency: number;
  private readonly persistIntervalMs: number;

  constructor(private readonly options: JobManagerOptions<J>) {
    this.owner = options.owner ?? `${options.kind.name}@${hostname()}`;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.persistIntervalMs = options.persistIntervalMs ?? 1000;
  }

  /** Queues a job and returns it at once, in state QUEUED or already RUNNING. */
  async start(request: StartRequest<J>): Promise<J> {
    if (this.closed) throw new RpcError(Code.UNAVAILABLE, 'the service is shutting down');
    if (request.jobId) {
      const existing = this.entries.get(request.jobId)?.job ?? await this.fromStore(request.jobId);
      if (existing) return this.snapshot(existing);
    }

    const now = timestampNow();
    const job = create(this.options.kind.jobSchema, {
      meta: create(JobMetaSchema, {
        jobId: request.jobId || randomUUID(),
        runId: request.runId || newRunId(),
        state: JobState.QUEUED,
        createdAt: now,
        updatedAt: now,
        owner: this.owner,
        traceparent: request.traceparent ?? '',
        progress: { stage: 'queued' },
      }),
      spec: request.spec,
      status: create(this.options.kind.statusSchema),
    } as never) as unknown as J;

    const entry = this.track(job, false);
    await this.save(entry);
    this.enqueue(entry);
    return this.snapshot(entry.job);
  }

  /** The job's current state; NOT_FOUND when no instance knows the id. */
  async get(jobId: string): Promise<J> {
    const entry = this.entries.get(jobId);
    if (entry) return this.snapshot(entry.job);
    const stored = await this.fromStore(jobId);
    if (!stored) throw new RpcError(Code.NOT_FOUND, `job ${jobId} not found`);
    return stored;
  }

  /**
   * The job's state now, then after every change, ending after the terminal state. Changes that
   * happen while the consumer is busy are coalesced: it always receives the latest state.
   */
  async *watch(jobId: string, signal?: AbortSignal): AsyncGenerator<J> {
    const entry = this.entries.get(jobId);
    if (!entry) {
      yield* this.watchStored(jobId, signal);
      return;
    }

    let seen = -1;
    while (!signal?.aborted) {
      if (entry.version !== seen) {
        seen = entry.version;
        const job = this.snapshot(entry.job);
        yield job;
        if (isTerminal(job.meta!.state)) return;
        continue;
      }
      await this.changed(entry, signal);
    }
  }

  /** Stops a job. A queued job ends at once; a running one ends when its runner returns. */
  async cancel(jobId: string): Promise<J> {
    const entry = this.entries.get(jobId);
    if (!entry) {
      const stored = await this.get(jobId);
      if (isTerminal(stored.meta!.state)) return stored;
      throw new RpcError(Code.FAILED_PRECONDITION,
        `job ${jobId} runs on ${stored.meta!.owner}; cancel it there`);
    }
    const state = entry.job.meta!.state;
    if (isTerminal(state)) return this.snapshot(entry.job);

    if (state === JobState.QUEUED) {
      this.queue.splice(this.queue.indexOf(jobId), 1);
      this.finish(entry, JobState.CANCELLED, 'cancelled before it started');
    } else {
      entry.controller.abort(CANCEL);
      this.setStage(entry, 'cancelling');
      await entry.done;
    }
    return this.snapshot(entry.job);
  }

  /** Resumes every unfinished job this owner left in the store; returns how many. */
  async restore(): Promise<number> {
    let resumed = 0;
    for (const record of await this.options.store.list()) {
      const job = this.options.kind.fromRecord(record);
      if (!job || job.meta?.owner !== this.owner || isTerminal(job.meta.state)) continue;
      if (this.entries.has(job.meta.jobId)) continue;
      job.meta.state = JobState.QUEUED;
      const entry = this.track(job, true);
      this.enqueue(entry);
      resumed += 1;
    }
    return resumed;
  }

  /**
   * Stops taking jobs and interrupts the running ones; they are saved as QUEUED, so the next
   * start of this owner resumes them. Waits for the runners to return.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    const running = [...this.entries.values()].filter((e) => e.done);
    for (const entry of running) entry.controller.abort(SHUTDOWN);
    await Promise.allSettled(running.map((e) => e.done));
    for (const entry of this.entries.values()) void this.save(entry);
    await this.saving;
  }

  /** Resolves when no job is queued or running and every state change is saved. */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.running > 0) {
      await Promise.race([...this.entries.values()].filter((e) => e.done).map((e) => e.done));
    }
    await this.saving;
  }

  private track(job: J, resumed: boolean): Entry<J> {
    const entry: Entry<J> = {
      job, resumed, controller: new AbortController(), startedAt: 0, version: 0, waiters: [],
      lastSaved: 0, saveTimer: undefined, done: undefined,
    };
    this.entries.set(job.meta!.jobId, entry);
    return entry;
  }

  private enqueue(entry: Entry<J>): void {
    this.queue.push(entry.job.meta!.jobId);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0 && !this.closed) {
      const entry = this.entries.get(this.queue.shift()!);
      if (entry) this.launch(entry);
    }
  }

  private launch(entry: Entry<J>): void {
    this.running += 1;
    entry.startedAt = Date.now();
    const meta = entry.job.meta!;
    meta.state = JobState.RUNNING;
    meta.progress = withStage(meta.progress, 'running');
    this.touch(entry, true);

    const job: RunningJob<J> = {
      jobId: meta.jobId,
      runId: meta.runId,
      spec: entry.job.spec as SpecOf<J>,
      status: entry.job.status as StatusOf<J>,
      signal: entry.controller.signal,
      resumed: entry.resumed,
      traceparent: meta.traceparent,
      report: (progress) => this.report(entry, progress),
    };

    entry.done = (async () => {
      try {
        await this.options.run(job);
        const reason = entry.controller.signal.reason;
        if (reason === SHUTDOWN) this.interrupt(entry);
        else if (reason === CANCEL) this.finish(entry, JobState.CANCELLED, 'cancelled');
        else this.finish(entry, JobState.SUCCEEDED, 'done');
      } catch (err) {
        const reason = entry.controller.signal.reason;
        if (reason === SHUTDOWN) this.interrupt(entry);
        else if (reason === CANCEL) this.finish(entry, JobState.CANCELLED, 'cancelled');
        else this.fail(entry, err);
      } finally {
        this.running -= 1;
        this.pump();
      }
    })();
  }

  private report(entry: Entry<J>, progress?: ProgressUpdate): void {
    const meta = entry.job.meta!;
    if (progress) {
      const merged = meta.progress ? clone(ProgressSchema, meta.progress) : create(ProgressSchema);
      if (progress.done !== undefined) merged.done = BigInt(Math.max(0, Math.floor(progress.done)));
      if (progress.total !== undefined) merged.total = BigInt(Math.max(0, Math.floor(progress.total)));
      if (progress.unit !== undefined) merged.unit = progress.unit;
      if (progress.stage !== undefined) merged.stage = progress.stage;
      const seconds = (Date.now() - entry.startedAt) / 1000;
      if (progress.done !== undefined && seconds > 0) {
        merged.rate = Number(merged.done) / seconds;
        const left = Number(merged.total) - Number(merged.done);
        merged.etaSeconds = merged.total > 0n && merged.rate > 0 ? Math.max(0, left) / merged.rate : 0;
      }
      meta.progress = merged;
    }
    this.touch(entry, false);
  }

  private setStage(entry: Entry<J>, stage: string): void {
    entry.job.meta!.progress = withStage(entry.job.meta!.progress, stage);
    this.touch(entry, true);
  }

  private finish(entry: Entry<J>, state: JobState, stage: string): void {
    entry.job.meta!.state = state;
    this.setStage(entry, stage);
    this.prune();
  }

  /** Forgets the oldest ended jobs past a bound; the store still answers for them. */
  private prune(): void {
    const ended = [...this.entries.values()].filter((e) => isTerminal(e.job.meta!.state));
    for (const entry of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_IN_MEMORY))) {
      if (entry.waiters.length === 0) this.entries.delete(entry.job.meta!.jobId);
    }
  }

  private interrupt(entry: Entry<J>): void {
    entry.job.meta!.state = JobState.QUEUED;
    this.setStage(entry, 'interrupted by shutdown; resumes when the service restarts');
  }

  private fail(entry: Entry<J>, err: unknown): void {
    const code = err instanceof RpcError ? err.code : Code.INTERNAL;
    const message = err instanceof Error ? err.message : String(err);
    entry.job.meta!.error = create(JobErrorSchema, { code: codeName(code), message });
    this.finish(entry, JobState.FAILED, 'failed');
    if (!(err instanceof RpcError)) this.options.onError?.(err, entry.job.meta!.jobId);
  }

  /** Marks a change: wakes watchers and saves now (state changes) or soon (progress). */
  private touch(entry: Entry<J>, urgent: boolean): void {
    entry.job.meta!.updatedAt = timestampNow();
    entry.version += 1;
    for (const wake of entry.waiters.splice(0)) wake();

    const due = entry.lastSaved + this.persistIntervalMs - Date.now();
    if (urgent || due <= 0) {
      void this.save(entry);
    } else if (!entry.saveTimer) {
      entry.saveTimer = setTimeout(() => void this.save(entry), due);
      entry.saveTimer.unref();
    }
  }

  /** Queues a save of the job's state now; saves reach the store in the order made. */
  private save(entry: Entry<J>): Promise<void> {
    if (entry.saveTimer) clearTimeout(entry.saveTimer);
    entry.saveTimer = undefined;
    entry.lastSaved = Date.now();
    const record = this.options.kind.toRecord(this.snapshot(entry.job));
    this.saving = this.saving
      .then(() => this.options.store.save(record))
      .catch((err) => this.options.onError?.(err, record.meta?.jobId ?? ''));
    return this.saving;
  }

  private changed(entry: Entry<J>, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private snapshot(job: J): J {
    return clone(this.options.kind.jobSchema, job as never) as unknown as J;
  }

  private async fromStore(jobId: string): Promise<J | undefined> {
    const record = await this.options.store.get(jobId);
    return record && this.options.kind.fromRecord(record);
  }

  /** Follows a job another instance runs, by polling the store. */
  private async *watchStored(jobId: string, signal?: AbortSignal): AsyncGenerator<J> {
    let last = '';
    while (!signal?.aborted) {
      const job = await this.get(jobId);
      const stamp = `${job.meta!.updatedAt?.seconds}.${job.meta!.updatedAt?.nanos}`;
      if (stamp !== last) {
        last = stamp;
        yield job;
      }
      if (isTerminal(job.meta!.state)) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
