// The run and job a piece of work belongs to, carried in OpenTelemetry baggage so that it crosses
// gRPC calls and Kafka hops with the trace context. Without startTelemetry() no context manager
// or propagator is registered, and these values are neither kept nor carried.
import { context, propagation, type Context } from '@opentelemetry/api';
import { DELTA_JOB_ID, DELTA_RUN_ID } from './genai.js';

/** Identifiers that tie logs, spans and records to one run of the pipeline and one job in it. */
export interface RunIds {
  runId?: string;
  jobId?: string;
}

/** Returns a context that carries the given run and job ids (in baggage) on top of `base`. */
export function contextWithRun(ids: RunIds, base: Context = context.active()): Context {
  let baggage = propagation.getBaggage(base) ?? propagation.createBaggage();
  if (ids.runId) baggage = baggage.setEntry(DELTA_RUN_ID, { value: ids.runId });
  if (ids.jobId) baggage = baggage.setEntry(DELTA_JOB_ID, { value: ids.jobId });
  return propagation.setBaggage(base, baggage);
}

/** Runs `fn` with the run and job ids attached, so logs and outgoing calls inside it carry them. */
export function withRun<T>(ids: RunIds, fn: () => T): T {
  return context.with(contextWithRun(ids), fn);
}

/** The run and job ids of the active context (set here or received from a caller). */
export function currentRun(ctx: Context = context.active()): RunIds {
  const baggage = propagation.getBaggage(ctx);
  const runId = baggage?.getEntry(DELTA_RUN_ID)?.value;
  const jobId = baggage?.getEntry(DELTA_JOB_ID)?.value;
  return { ...(runId ? { runId } : {}), ...(jobId ? { jobId } : {}) };
}
