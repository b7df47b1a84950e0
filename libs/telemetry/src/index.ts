// @delta/telemetry: traces, metrics and structured logs for Delta services, started with one
// call. Spans of gRPC calls and Kafka hops are made by @delta/rpc and @delta/stream.
export { startTelemetry, type Telemetry, type TelemetryOptions } from './start.js';
export { startTestTelemetry, type TestTelemetry } from './testing.js';
export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export { createLogger, logCorrelation, type Logger, type LoggerConfig } from './logger.js';
export { contextWithRun, currentRun, withRun, type RunIds } from './run-context.js';
export * from './genai.js';
