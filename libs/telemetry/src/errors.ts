// The one error type of @delta/telemetry: bad OTEL_* configuration, a second start, or a failed
// flush at shutdown.

/** What went wrong: CONFIG (a variable names the fault), ALREADY_STARTED, SHUTDOWN. */
export type TelemetryErrorCode = 'CONFIG' | 'ALREADY_STARTED' | 'SHUTDOWN';

/** Raised by startTelemetry and Telemetry.shutdown; `cause` keeps the underlying error. */
export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  constructor(
    readonly code: TelemetryErrorCode,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
