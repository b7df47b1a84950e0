// The error type of the `delta` command's own work (pipelines, runs, the local stack, reports):
// a code saying which part failed, a message a person can act on, and the cause kept. Mistakes
// in how a command was called are CliError (command.ts), which also shows the usage.

/** Which part of the work failed; main.ts maps it to an exit code. */
export type RunErrorCode =
  /** The pipeline file is malformed or names something that does not exist. */
  | 'PIPELINE'
  /** A run folder or its state.json is missing or unreadable. */
  | 'STATE'
  /** The local stack could not start, or a component of it is not healthy. */
  | 'STACK'
  /** A service could not be reached in time. */
  | 'UNAVAILABLE'
  /** A service refused a job or the job failed. */
  | 'JOB'
  /** The world (built-in models and prompts) could not be built. */
  | 'WORLD'
  /** The report could not be written. */
  | 'REPORT';

/** A failure of a run, the stack or a report, with what to do about it in the message. */
export class RunError extends Error {
  override readonly name = 'RunError';

  constructor(
    readonly code: RunErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  /** Exit code of the command that hit it: 2 for a bad pipeline, 1 for the rest. */
  get exitCode(): number {
    return this.code === 'PIPELINE' ? 2 : 1;
  }
}
