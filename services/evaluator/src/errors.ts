// Turns what the evals and lm libraries throw into the RpcError the service answers with, so a
// client sees a status code that fits (bad data is INVALID_ARGUMENT, a model folder that cannot
// serve is FAILED_PRECONDITION) and a message naming the request field at fault.
import { EvalError } from '@delta/evals';
import { LmError, type LmErrorCode } from '@delta/lm';
import { Code, RpcError, toRpcError } from '@delta/rpc';

const EVAL_CODES: Record<EvalError['code'], Code> = {
  INVALID_ARGUMENT: Code.INVALID_ARGUMENT,
  NOT_FOUND: Code.NOT_FOUND,
  FAILED_PRECONDITION: Code.FAILED_PRECONDITION,
  INTERNAL: Code.INTERNAL,
};

const LM_CODES: Record<LmErrorCode, Code> = {
  MODEL_FILE_MISSING: Code.FAILED_PRECONDITION,
  MODEL_FILE_INVALID: Code.FAILED_PRECONDITION,
  UNSUPPORTED_MODEL: Code.FAILED_PRECONDITION,
  INVALID_REQUEST: Code.INVALID_ARGUMENT,
  PROMPT_TOO_LONG: Code.INVALID_ARGUMENT,
  PROMPT_FILE_INVALID: Code.INVALID_ARGUMENT,
  RUNTIME_FAILED: Code.INTERNAL,
  CALLBACK_FAILED: Code.INTERNAL,
};

/**
 * The RpcError for anything thrown while serving a request or running a job. `field` (a proto
 * field path such as "spec.tasks[1]") prefixes the message of library errors, which name files
 * and lines but not the request field that led there. Errors of unknown kind stay INTERNAL
 * with a fixed message; their cause is kept for the logs.
 */
export function toServiceError(err: unknown, field?: string): RpcError {
  const where = field ? `${field}: ` : '';
  if (err instanceof EvalError) return new RpcError(EVAL_CODES[err.code], where + err.message, err);
  if (err instanceof LmError) return new RpcError(LM_CODES[err.code], where + err.message, err);
  return toRpcError(err);
}
