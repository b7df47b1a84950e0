// The shape of a `delta` subcommand and the streams it writes to. Each subcommand is a module
// exporting one Command; main.ts only dispatches, it knows no command's options.

/** Where a command writes: stdout for results (one JSON object for scripts), stderr for people. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal, so progress can be drawn as bars; default false. */
  stderrIsTty?: boolean;
  /** Width of that terminal in columns. */
  columns?: number;
  /** Variables the command reads (addresses, folders); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Folder relative paths are taken from; default process.cwd(). */
  cwd?: string;
  /** Aborted when the person interrupts the command (Ctrl-C); bin.ts wires SIGINT to it. */
  signal?: AbortSignal;
}

/** One subcommand, found by its words ("eval score"), run with the arguments after them. */
export interface Command {
  readonly words: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** Returns the exit code; throws CliError or a library error for failures. */
  run(args: string[], io: CommandIo): Promise<number>;
}

/** A mistake in how the command was called: exit code 2 with the usage shown. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.exitCode = options.exitCode ?? 2;
  }
}
