// The one error type of @delta/lm: every failure leaving the library is an LmError with a code a
// caller can branch on and the original cause attached. It does not log or print anything.

/** What went wrong, in a form a service edge can map to a status code without parsing text. */
export type LmErrorCode =
  | 'MODEL_FILE_MISSING'
  | 'MODEL_FILE_INVALID'
  | 'UNSUPPORTED_MODEL'
  | 'INVALID_REQUEST'
  | 'PROMPT_TOO_LONG'
  | 'PROMPT_FILE_INVALID'
  | 'RUNTIME_FAILED'
  | 'CALLBACK_FAILED';

/**
 * Raised for every failure of model loading, export and decoding, so callers handle one type
 * and keep the underlying error (a JSON parse error, an ONNX Runtime error) as `cause`.
 */
export class LmError extends Error {
  override readonly name = 'LmError';
  readonly code: LmErrorCode;

  constructor(code: LmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
