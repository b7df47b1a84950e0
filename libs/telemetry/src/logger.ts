// Structured JSON logs (pino) for the service edge: every line carries the active trace and span
// ids and the run and job ids. Libraries take a logger, they never create one.
import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentRun } from './run-context.js';

export type { Logger } from 'pino';

/** Options for createLogger; anything pino accepts may be passed through `pino`. */
export interface LoggerConfig {
  /** Logger name, usually the service name ("generator"). */
  name: string;
  /** Minimum level; defaults to $DELTA_LOG_LEVEL, else "info". */
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
  pino?: LoggerOptions;
}

/** The trace, span, run and job ids of the active context, as log fields. */
export function logCorrelation(): Record<string, string> {
  const fields: Record<string, string> = {};
  const span = trace.getSpan(context.active())?.spanContext();
  if (span && trace.isSpanContextValid(span)) {
    fields.trace_id = span.traceId;
    fields.span_id = span.spanId;
  }
  const { runId, jobId } = currentRun();
  if (runId) fields.run_id = runId;
  if (jobId) fields.job_id = jobId;
  return fields;
}

/**
 * Creates the service's JSON logger. Correlation fields are computed per line, so a line written
 * inside a span or a withRun() block is tied to it without passing ids around.
 */
export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name: config.name,
    level: config.level ?? process.env.DELTA_LOG_LEVEL ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: logCorrelation,
    ...config.pino,
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}
