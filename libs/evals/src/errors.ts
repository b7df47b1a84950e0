// The one error type of the evals library: every failure a caller can act on carries a code, the
// file, line and field at fault where there is one, and the original cause.

/** Codes follow gRPC status names so the evaluator service can pass them through unchanged. */
export type EvalErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'INTERNAL';

/** Where in the user's input a problem sits; all parts optional. */
export interface ErrorLocation {
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  field?: string;
}

/**
 * Raised for bad data, unknown tasks and misbehaving models, so callers (the CLI, the
 * evaluator service) can map one type to an exit code or a status without parsing messages.
 */
export class EvalError extends Error {
  override readonly name = 'EvalError';
  readonly code: EvalErrorCode;
  readonly location: ErrorLocation;

  constructor(
    code: EvalErrorCode,
    message: string,
    options: { location?: ErrorLocation; cause?: unknown } = {},
  ) {
    super(prefix(options.location) + message, { cause: options.cause });
    this.code = code;
    this.location = options.location ?? {};
  }
}

function prefix(location: ErrorLocation | undefined): string {
  if (!location) return '';
  let where = location.file ?? '';
  if (location.line !== undefined) where += `${where ? ':' : 'line '}${location.line}`;
  if (location.field) where += `${where ? ' ' : ''}field "${location.field}"`;
  return where ? `${where}: ` : '';
}
