// One way to start, watch, read and cancel a job on any of the four services, so the driver
// handles generation, pairing, training and evaluation alike. Watching survives a service that
// goes away for a while: it reconnects with backoff until a deadline, then gives up.
import { setTimeout as wait } from 'node:timers/promises';
import { toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import {
  EvaluationSpecSchema, EvaluationStatusSchema, GenerationSpecSchema, GenerationStatusSchema,
  JobState, PairingSpecSchema, PairingStatusSchema, TrainingSpecSchema, TrainingStatusSchema,
  type EvaluationSpec, type GenerationSpec, type JobMeta, type PairingSpec, type TrainingSpec,
} from '@delta/contracts';
import { Code, RpcError, codeName } from '@delta/rpc';

import { RunError } from '../errors.js';
import type { Clients, ServiceName } from '../services.js';
import type { JobEntry } from './state.js';

/** Any service's job message, as the four contracts share its shape. */
interface AnyJob {
  meta?: JobMeta;
  spec?: object;
  status?: object;
}

/** A job's state as the driver keeps it. */
export interface JobView {
  state: JobState;
  entry: Pick<JobEntry, 'state' | 'progress' | 'error' | 'spec' | 'status'>;
}

/** The four operations on one service's jobs. */
export interface JobOps {
  start(runId: string, jobId: string, spec: unknown): Promise<JobView>;
  watch(jobId: string, signal: AbortSignal): AsyncIterable<JobView>;
  get(jobId: string): Promise<JobView>;
  cancel(jobId: string): Promise<JobView>;
}

/** Whether a job has ended. */
export function isEnded(state: JobState): boolean {
  return state === JobState.SUCCEEDED || state === JobState.FAILED || state === JobState.CANCELLED;
}

const STATUS: Record<ServiceName, DescMessage> = {
  generator: GenerationStatusSchema,
  pairer: PairingStatusSchema,
  trainer: TrainingStatusSchema,
  evaluator: EvaluationStatusSchema,
};

const SPEC: Record<ServiceName, DescMessage> = {
  generator: GenerationSpecSchema,
  pairer: PairingSpecSchema,
  trainer: TrainingSpecSchema,
  evaluator: EvaluationSpecSchema,
};

/** The job operations of `service` over its client. */
export function jobOps(clients: Clients, service: ServiceName): JobOps {
  const view = (job: AnyJob | undefined): JobView => toView(service, job);
  switch (service) {
    case 'generator': {
      const c = clients.generator;
      return {
        start: async (runId, jobId, spec) =>
          view((await c.startGeneration({ runId, jobId, spec: spec as GenerationSpec })).job),
        watch: (jobId, signal) => mapIter(c.watchGeneration({ jobId }, { signal }), (r) => view(r.job)),
        get: async (jobId) => view((await c.getGeneration({ jobId })).job),
        cancel: async (jobId) => view((await c.cancelGeneration({ jobId })).job),
      };
    }
    case 'pairer': {
      const c = clients.pairer;
      return {
        start: async (runId, jobId, spec) =>
          view((await c.startPairing({ runId, jobId, spec: spec as PairingSpec })).job),
        watch: (jobId, signal) => mapIter(c.watchPairing({ jobId }, { signal }), (r) => view(r.job)),
        get: async (jobId) => view((await c.getPairing({ jobId })).job),
        cancel: async (jobId) => view((await c.cancelPairing({ jobId })).job),
      };
    }
    case 'trainer': {
      const c = clients.trainer;
      return {
        start: async (runId, jobId, spec) =>
          view((await c.startTraining({ runId, jobId, spec: spec as TrainingSpec })).job),
        watch: (jobId, signal) => mapIter(c.watchTraining({ jobId }, { signal }), (r) => view(r.job)),
        get: async (jobId) => view((await c.getTraining({ jobId })).job),
        cancel: async (jobId) => view((await c.cancelTraining({ jobId })).job),
      };
    }
    case 'evaluator': {
      const c = clients.evaluator;
      return {
        start: async (runId, jobId, spec) =>
          view((await c.startEvaluation({ runId, jobId, spec: spec as EvaluationSpec })).job),
        watch: (jobId, signal) =>
          mapIter(c.watchEvaluation({ jobId }, { signal }), (r) => view(r.job)),
        get: async (jobId) => view((await c.getEvaluation({ jobId })).job),
        cancel: async (jobId) => view((await c.cancelEvaluation({ jobId })).job),
      };
    }
  }
}

function toView(service: ServiceName, job: AnyJob | undefined): JobView {
  const meta = job?.meta;
  const state = meta?.state ?? JobState.UNSPECIFIED;
  const progress = meta?.progress;
  return {
    state,
    entry: {
      state: JobState[state] ?? 'UNSPECIFIED',
      ...(progress ? { progress: {
        done: Number(progress.done), total: Number(progress.total), unit: progress.unit,
        stage: progress.stage,
      } } : {}),
      ...(meta?.error && state === JobState.FAILED
        ? { error: { code: meta.error.code, message: meta.error.message } } : {}),
      // The spec as the service stored it: a trainer writes the preset's values into it.
      ...(job?.spec ? { spec: toJson(SPEC[service], job.spec as never,
        { useProtoFieldName: true }) as JsonValue } : {}),
      ...(job?.status ? { status: toJson(STATUS[service], job.status as never,
        { alwaysEmitImplicit: true }) as JsonValue } : {}),
    },
  };
}

async function* mapIter<T, U>(source: AsyncIterable<T>, fn: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield fn(item);
}

/** Codes after which a watch is tried again: the service restarts or the network blinks. */
const TRANSIENT = new Set<number>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL,
  Code.UNKNOWN, Code.CANCELLED]);

/**
 * Follows a job until it ends, calling `onUpdate` with every state. While the service is
 * unreachable it retries (1 s doubling to 10 s, with jitter) for up to `reconnectMs`; past
 * that it throws UNAVAILABLE. An abort of `signal` stops following (the job keeps running).
 */
export async function followJob(ops: JobOps, service: ServiceName, address: string,
  jobId: string, options: { signal: AbortSignal; reconnectMs: number;
    onUpdate: (view: JobView) => void }): Promise<JobView> {
  let lostSince: number | undefined;
  let delay = 1_000;
  let last: JobView | undefined;
  while (!options.signal.aborted) {
    try {
      for await (const view of ops.watch(jobId, options.signal)) {
        lostSince = undefined;
        delay = 1_000;
        last = view;
        options.onUpdate(view);
        if (isEnded(view.state)) return view;
      }
      // The stream ended without a final state (a server shutting down): ask again.
      last = await ops.get(jobId);
      options.onUpdate(last);
      if (isEnded(last.state)) return last;
    } catch (err) {
      if (options.signal.aborted) break;
      const error = err instanceof RpcError ? err : new RpcError(Code.UNKNOWN, String(err), err);
      if (error.code === Code.NOT_FOUND) {
        throw new RunError('JOB', `${service} at ${address} does not know job ${jobId}: the ` +
          'service was started with another jobs topic or broker', { cause: err });
      }
      if (!TRANSIENT.has(error.code)) {
        throw new RunError('JOB', `${service} at ${address}: ${codeName(error.code)}: ` +
          `${error.message}`, { cause: err });
      }
      lostSince ??= Date.now();
      if (Date.now() - lostSince > options.reconnectMs) {
        throw new RunError('UNAVAILABLE', `${service} at ${address} has not answered for ` +
          `${Math.round((Date.now() - lostSince) / 1000)} s (${error.message}); the job goes on ` +
          'in the service if it is up: reattach with `delta resume <run>`', { cause: err });
      }
      await abortableSleep(delay * (0.8 + 0.4 * Math.random()), options.signal);
      delay = Math.min(10_000, delay * 2);
    }
  }
  // Aborted before the first answer: the job's state is unknown here, not ended.
  return last ?? { state: JobState.UNSPECIFIED, entry: { state: 'UNSPECIFIED' } };
}

/**
 * Starts a job, waiting up to `reconnectMs` for a service that does not answer (starting again
 * with the same job id is safe: the service returns the job it already has). Other refusals
 * (a bad spec) fail at once.
 */
export async function startJob(ops: JobOps, service: ServiceName, address: string,
  request: { runId: string; jobId: string; spec: unknown },
  options: { signal: AbortSignal; reconnectMs: number }): Promise<JobView> {
  const since = Date.now();
  let delay = 1_000;
  for (;;) {
    try {
      return await ops.start(request.runId, request.jobId, request.spec);
    } catch (err) {
      const error = err instanceof RpcError ? err : new RpcError(Code.UNKNOWN, String(err), err);
      const waited = Date.now() - since;
      if (!TRANSIENT.has(error.code) || options.signal.aborted || waited > options.reconnectMs) {
        const unreachable = error.code === Code.UNAVAILABLE;
        throw new RunError('JOB', `${service} at ${address} ` +
          `${unreachable ? `did not answer for ${Math.round(waited / 1000)} s` : 'refused'} ` +
          `job ${request.jobId}: ${codeName(error.code)}: ${tidy(error.message)}`, { cause: err });
      }
      await abortableSleep(delay * (0.8 + 0.4 * Math.random()), options.signal);
      delay = Math.min(10_000, delay * 2);
    }
  }
}

/** grpc-js ends some messages with an empty "Resolution note: "; it says nothing. */
function tidy(message: string): string {
  return message.replace(/\s*Resolution note:\s*$/u, '');
}

/** Waits `ms`, or less when `signal` aborts (the caller then sees the abort itself). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return wait(ms, undefined, { signal }).catch(() => undefined);
}
