// The `delta` command line: finds the subcommand named by the leading words and runs it, and
// turns errors into a message on stderr and an exit code. It holds no command's logic.
import { EvalError } from '@delta/evals';

import { CliError, type Command, type CommandIo } from './command.js';
import { evalScore } from './commands/eval-score.js';
import { reportCommand } from './commands/report.js';
import { resumeCommand } from './commands/resume.js';
import { runCommand } from './commands/run.js';
import { stackDownCommand, stackStatusCommand, stackUpCommand } from './commands/stack.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';
import { RunError } from './errors.js';

/** Every subcommand; a new one is a module in commands/ added here. */
export const COMMANDS: readonly Command[] = [runCommand, resumeCommand, statusCommand,
  watchCommand, reportCommand, stackUpCommand, stackDownCommand, stackStatusCommand, evalScore];

/** Runs `delta` with the arguments after the program name; resolves to the exit code. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const command = COMMANDS.find((c) => c.words.every((w, i) => argv[i] === w));
  if (!command) {
    if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
      io.stdout(overview());
      return 0;
    }
    const asked = argv.filter((a) => !a.startsWith('-')).join(' ');
    io.stderr(`${asked ? `delta: unknown command "${asked}"\n\n` : ''}${overview()}`);
    return 2;
  }
  const args = argv.slice(command.words.length);
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(command.usage);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`delta ${command.words.join(' ')}: ${err.message}\n\n${command.usage}`);
      return err.exitCode;
    }
    if (err instanceof RunError) {
      io.stderr(`delta ${command.words.join(' ')}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof EvalError) {
      io.stderr(`delta ${command.words.join(' ')}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`);
  return `usage: delta <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    'Run "delta <command> --help" for a command\'s options.\n';
}
