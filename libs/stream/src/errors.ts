// The one error type of @delta/stream. Every kafkajs failure is normalised into it with the
// original kept as `cause`; `retriable` says whether trying again may succeed.

/** Where a stream operation failed. */
export type StreamErrorCode =
  | 'CONNECTION' // brokers unreachable or the connection dropped
  | 'PRODUCE' // a send failed after retries
  | 'CONSUME' // the consumer crashed
  | 'TRANSACTION' // a transaction could not be committed (it was aborted)
  | 'ADMIN' // topic administration failed
  | 'DECODE' // a record's value is not the topic's protobuf message
  | 'CONFIG'; // bad options or environment

/** Location of a record, for errors about one record. */
export interface RecordLocation {
  topic: string;
  partition: number;
  offset: string;
}

/** A failure of the Kafka boundary, with a code, a retriable flag and the cause. */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  readonly retriable: boolean;
  readonly record?: RecordLocation;

  constructor(
    readonly code: StreamErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown; record?: RecordLocation } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable ?? false;
    if (options.record) this.record = options.record;
  }
}

function kafkaRetriable(err: unknown): boolean {
  let current: unknown = err;
  while (current instanceof Error) {
    if ((current as { retriable?: boolean }).retriable === true) return true;
    current = current.cause;
  }
  return false;
}

/** The first StreamError in an error's cause chain (kafkajs wraps what handlers throw). */
export function findStreamError(err: unknown): StreamError | undefined {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof StreamError) return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * Remembers StreamErrors handed to kafkajs, which keeps only their message when it wraps them,
 * so a crash can be reported with the original code and record location.
 */
export class ThrownErrors {
  private readonly recent = new Map<string, StreamError>();

  remember(err: unknown): void {
    if (!(err instanceof StreamError)) return;
    this.recent.set(err.message, err);
    if (this.recent.size > 32) this.recent.delete(this.recent.keys().next().value!);
  }

  /** The StreamError behind a kafkajs crash error, if this side threw it. */
  find(err: Error): StreamError | undefined {
    return findStreamError(err) ?? this.recent.get(err.message);
  }
}

/** Wraps anything thrown by kafkajs (or a handler) as a StreamError of the given code. */
export function toStreamError(err: unknown, code: StreamErrorCode, what: string): StreamError {
  if (err instanceof StreamError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const connection =
    err instanceof Error && /Connection|ECONNREFUSED|broker/i.test(err.name + detail);
  return new StreamError(
    connection && code !== 'DECODE' ? 'CONNECTION' : code,
    `${what}: ${detail}`,
    {
      retriable: kafkaRetriable(err),
      cause: err,
    },
  );
}
