// Options several commands share (where runs and the stack live, the services' addresses) and
// the argument parsing every command uses, which turns a mistake into a CliError.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { CliError } from '../command.js';
import { SERVICE_NAMES, type ServiceName } from '../services.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** --runs-dir and --stack-dir. */
export const FOLDER_OPTIONS = {
  'runs-dir': { type: 'string' },
  'stack-dir': { type: 'string' },
} as const satisfies Options;

/** --generator ... --evaluator addresses and --brokers for a stack that gets started. */
export const SERVICE_OPTIONS = {
  generator: { type: 'string' },
  pairer: { type: 'string' },
  trainer: { type: 'string' },
  evaluator: { type: 'string' },
  brokers: { type: 'string' },
} as const satisfies Options;

/** Usage lines of the shared options. */
export const SHARED_USAGE =
`  --runs-dir <dir>           where run folders are (default ./runs, or DELTA_RUNS_DIR)
  --stack-dir <dir>          the local stack's folder (default ./.delta/stack, or DELTA_STACK_DIR)
  --generator <host:port>    a service's address (also --pairer, --trainer, --evaluator, or
                             DELTA_GENERATOR_ADDR ...); given addresses are never replaced by a
                             local stack. TLS: DELTA_TLS_CA, DELTA_TLS_CLIENT_CERT/KEY
  --brokers <host:port>      Kafka for a local stack this command starts (default: it starts
                             its own broker; DELTA_KAFKA_BROKERS)
`;

/** Parses `args`; unknown options and missing values are CliErrors (exit 2, usage shown). */
export function parse<O extends Options>(args: string[], options: O):
  ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new CliError((err as Error).message, { cause: err });
  }
}

/** The --<service> flags as a record. */
export function addressFlags(values: Partial<Record<string, unknown>>):
  Partial<Record<ServiceName, string>> {
  return Object.fromEntries(SERVICE_NAMES.flatMap((n) =>
    typeof values[n] === 'string' ? [[n, values[n] as string]] : [])) as
    Partial<Record<ServiceName, string>>;
}

/** A whole number of seconds from an option, as milliseconds. */
export function secondsOption(raw: unknown, name: string, fallback: number): number {
  if (raw === undefined) return fallback * 1000;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/u.test(raw) || !Number.isSafeInteger(n)) {
    throw new CliError(`--${name} must be a whole number of seconds, got "${String(raw)}"`);
  }
  return n * 1000;
}

/** Exactly one positional argument, named `what` in the error. */
export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new CliError(positionals.length === 0 ? `give the ${what}`
      : `give one ${what}, got ${positionals.length} arguments: ${positionals.join(' ')}`);
  }
  return positionals[0]!;
}
