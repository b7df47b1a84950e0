// Maps the libraries' errors onto gRPC status codes at the trainer's edge: an engine or model
// file problem becomes the code a user can act on, with the original error kept as the cause.
import { EngineError } from '@delta/engine';
import { LmError } from '@delta/lm';
import { Code, RpcError } from '@delta/rpc';
import { StreamError } from '@delta/stream';

const ENGINE_CODES: Record<EngineError['code'], Code> = {
  INVALID_ARGUMENT: Code.INVALID_ARGUMENT,
  INVALID_CONFIG: Code.INVALID_ARGUMENT,
  INVALID_MODEL: Code.FAILED_PRECONDITION,
  UNSUPPORTED: Code.FAILED_PRECONDITION,
  INVALID_STATE: Code.FAILED_PRECONDITION,
  IO: Code.INTERNAL,
  OUT_OF_MEMORY: Code.RESOURCE_EXHAUSTED,
  INTERNAL: Code.INTERNAL,
};

/**
 * An RpcError for anything a training step, the engine, the model files or Kafka threw;
 * `context` says what was being done ("step 12", "spec.student").
 */
export function toJobError(err: unknown, context: string): RpcError {
  if (err instanceof RpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EngineError) {
    return new RpcError(ENGINE_CODES[err.code], `${context}: ${message}`, err);
  }
  if (err instanceof LmError) {
    const code = err.code === 'INVALID_REQUEST' ? Code.INVALID_ARGUMENT
      : err.code.startsWith('MODEL_FILE') || err.code === 'UNSUPPORTED_MODEL'
        ? Code.FAILED_PRECONDITION : Code.INTERNAL;
    return new RpcError(code, `${context}: ${message}`, err);
  }
  if (err instanceof StreamError) {
    return new RpcError(err.retriable ? Code.UNAVAILABLE : Code.INTERNAL,
      `${context}: ${message}`, err);
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOSPC') {
    return new RpcError(Code.RESOURCE_EXHAUSTED, `${context}: ${message}`, err);
  }
  return new RpcError(Code.INTERNAL, `${context}: ${message}`, err);
}
