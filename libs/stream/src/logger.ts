// The logger @delta/stream hands kafkajs: injected by the service, silent by default, so the
// library itself never prints.
import kafkajs, { type logCreator } from 'kafkajs';

const { logLevel } = kafkajs;

/** Structured logger interface; a pino logger fits after a small adapter (see README). */
export interface StreamLogger {
  debug(message: string, fields: Record<string, unknown>): void;
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

/** Least severe kafkajs level passed on to the logger. */
export type StreamLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** kafkajs log level for a StreamLogLevel (NOTHING when no logger is given). */
export function kafkaLogLevel(logger: StreamLogger | undefined, level: StreamLogLevel): number {
  if (!logger) return logLevel.NOTHING;
  return { debug: logLevel.DEBUG, info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR }[
    level
  ];
}

/** A kafkajs logCreator that forwards every entry, namespaced, to `logger`. */
export function logCreatorFor(logger: StreamLogger | undefined): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      if (!logger) return;
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = { ...fields, namespace: `kafkajs.${namespace}` };
      if (level === logLevel.ERROR) logger.error(message, entry);
      else if (level === logLevel.WARN) logger.warn(message, entry);
      else if (level === logLevel.INFO) logger.info(message, entry);
      else logger.debug(message, entry);
    };
}
