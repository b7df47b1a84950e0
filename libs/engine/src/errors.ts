// The one error type of @delta/engine. Native failures, bad files and bad arguments all
// arrive as EngineError with a code a caller can branch on and the original cause attached.

/** Why an engine call failed; callers branch on this rather than on message text. */
export type EngineErrorCode =
  | 'INVALID_ARGUMENT' // a batch, tensor or option is wrong; the message names it
  | 'INVALID_CONFIG' // a model or trainer configuration field is wrong or unsupported
  | 'INVALID_MODEL' // a checkpoint folder or file is malformed or does not match its config
  | 'UNSUPPORTED' // a valid checkpoint of an architecture or feature the engine lacks
  | 'INVALID_STATE' // the call does not fit the object's state (busy, disposed, mismatch)
  | 'IO' // the file system refused a read or write
  | 'OUT_OF_MEMORY'
  | 'INTERNAL'; // a native fault or a diverged run; the message says which

/** The error every @delta/engine entry point throws or rejects with. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const nativeCodes = new Set<string>([
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'INVALID_STATE',
  'OUT_OF_MEMORY',
  'INTERNAL',
]);

/** Normalises anything thrown by the addon or by Node into an EngineError, keeping the cause. */
export function toEngineError(err: unknown, context?: string): EngineError {
  if (err instanceof EngineError) return err;
  const prefix = context ? `${context}: ` : '';
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && nativeCodes.has(code)) {
      return new EngineError(code as EngineErrorCode, prefix + err.message, { cause: err });
    }
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      return new EngineError('IO', prefix + err.message, { cause: err });
    }
    return new EngineError('INTERNAL', prefix + err.message, { cause: err });
  }
  return new EngineError('INTERNAL', prefix + String(err), { cause: err });
}
