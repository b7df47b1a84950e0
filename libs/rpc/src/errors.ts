// The one error type at Delta's RPC edge: a gRPC status code, a message a user can act on, and
// the original cause. It does not log; the service passes errors to its own logger (onError).
import { status as Status, type ServiceError } from '@grpc/grpc-js';

export { status as Code } from '@grpc/grpc-js';

/** Name of a status code ("INVALID_ARGUMENT"), as JobError.code and log lines carry it. */
export function codeName(code: Status): string {
  return Status[code] ?? `CODE_${code}`;
}

/**
 * An RPC failure with its gRPC status code. Handlers throw it to choose the code a client sees;
 * clients receive it for every failed call. `cause` stays on this side of the wire.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: Status,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }

  /** The status name and message, as a client prints it. */
  override toString(): string {
    return `${codeName(this.code)}: ${this.message}`;
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    'metadata' in err
  );
}

/**
 * Normalises anything thrown into an RpcError. An RpcError passes through; an abort becomes
 * CANCELLED; an error marked `retriable: true` (a StreamError when Kafka is unreachable, for
 * one) becomes UNAVAILABLE, so clients retry; anything else becomes INTERNAL. The last two get
 * a fixed message, so stack traces and internal details never reach a client (the original
 * stays in `cause`).
 */
export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (isServiceError(err)) return new RpcError(err.code, err.details || err.message, err);
  if (err instanceof Error && err.name === 'AbortError') {
    return new RpcError(Status.CANCELLED, 'the call was cancelled', err);
  }
  if (err instanceof Error && (err as { retriable?: unknown }).retriable === true) {
    return new RpcError(Status.UNAVAILABLE, 'a service this call needs is unavailable; retry', err);
  }
  return new RpcError(Status.INTERNAL, 'internal error', err);
}
