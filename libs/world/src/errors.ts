// The one error type of @delta/world: a code a caller can branch on, a message that names the
// file, field or rung at fault, and the original cause.

/** What went wrong, by kind. */
export type WorldErrorCode =
  | 'INVALID_TEXT' // text outside the tokenizer's alphabet
  | 'INVALID_RECIPE' // a recipe field out of range
  | 'INVALID_PROMPT' // a prompt that is not of a task's form
  | 'CACHE' // the cache folder cannot be read or written
  | 'TRAINING' // the engine failed while training a rung
  | 'EXPORT'; // writing or exporting a model folder failed

/** Raised by every function of the library; `cause` keeps the error it came from. */
export class WorldError extends Error {
  override readonly name = 'WorldError';

  constructor(
    readonly code: WorldErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
