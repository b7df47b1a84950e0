// `delta stack up|down|status`: the local stack of one machine - a Kafka broker and the four
// services as background processes, health-checked. Runs start one by themselves when no
// services answer; these commands manage one by hand (to keep it up between runs, say).
import path from 'node:path';

import type { Command, CommandIo } from '../command.js';
import { readStackRecord, stackDir, stackDown, stackStatus, stackUp } from '../stack/stack.js';
import { parse, secondsOption } from './options.js';

const UP_USAGE = `usage: delta stack up [--root <dir>]... [options]

Starts a Kafka broker and the generator, pairer, trainer and evaluator as background processes
(logs and pids in the stack folder), waits until each serves, and prints their addresses.
A healthy stack is left as it is.

  --root <dir>               a folder the services may open models and data in and write
                             outputs to (repeatable; the working folder's runs/ and the
                             working folder itself by default)
  --brokers <host:port>      use this Kafka broker instead of starting one (DELTA_KAFKA_BROKERS)
  --stack-dir <dir>          the stack's folder (default ./.delta/stack, or DELTA_STACK_DIR)
  --json                     print the stack's record as JSON
`;

const DOWN_USAGE = `usage: delta stack down [options]

Stops the stack's services (SIGTERM; SIGKILL after the grace period) and its broker. Jobs that
were running stay resumable: a stack started again resumes them.

  --grace-seconds <n>        how long a service may take to stop (default 20)
  --purge                    also delete the broker's data (every job and record)
  --stack-dir <dir>          the stack's folder (default ./.delta/stack, or DELTA_STACK_DIR)
`;

const STATUS_USAGE = `usage: delta stack status [--json] [--stack-dir <dir>]

Prints each component's pid, address and health. Exit code 0 when all are healthy, 1 when one
is not, 3 when no stack is up.
`;

function folders(values: { 'stack-dir'?: string | undefined }, io: CommandIo) {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  return { env, cwd, dir: stackDir(values['stack-dir'], env, cwd) };
}

/** `delta stack up`. */
export const stackUpCommand: Command = {
  words: ['stack', 'up'],
  summary: 'start Kafka and the four services on this machine',
  usage: UP_USAGE,
  async run(args, io) {
    const { values } = parse(args, {
      root: { type: 'string', multiple: true }, brokers: { type: 'string' },
      'stack-dir': { type: 'string' }, json: { type: 'boolean' },
    });
    const { env, cwd, dir } = folders(values, io);
    const roots = (values.root ?? [cwd, path.join(cwd, 'runs')]).map((r) => path.resolve(cwd, r));
    const brokers = values.brokers || env.DELTA_KAFKA_BROKERS;
    const record = await stackUp({
      dir, roots, ...(brokers ? { brokers } : {}), log: (line) => io.stderr(`${line}\n`),
    });
    if (values.json) {
      io.stdout(JSON.stringify(record) + '\n');
    } else {
      io.stdout(`kafka      ${record.broker.brokers}\n` + Object.entries(record.services)
        .map(([name, s]) => `${name.padEnd(10)} ${s.address}`).join('\n') + '\n');
    }
    return 0;
  },
};

/** `delta stack down`. */
export const stackDownCommand: Command = {
  words: ['stack', 'down'],
  summary: 'stop the local stack',
  usage: DOWN_USAGE,
  async run(args, io) {
    const { values } = parse(args, {
      'grace-seconds': { type: 'string' }, purge: { type: 'boolean' }, 'stack-dir': { type: 'string' },
    });
    const { dir } = folders(values, io);
    const stopped = await stackDown(dir, {
      graceMs: secondsOption(values['grace-seconds'], 'grace-seconds', 20),
      purge: values.purge ?? false, log: (line) => io.stderr(`${line}\n`),
    });
    if (!stopped) io.stderr(`no stack is up in ${dir}\n`);
    return 0;
  },
};

/** `delta stack status`. */
export const stackStatusCommand: Command = {
  words: ['stack', 'status'],
  summary: "print the local stack's components and their health",
  usage: STATUS_USAGE,
  async run(args, io) {
    const { values } = parse(args, { json: { type: 'boolean' }, 'stack-dir': { type: 'string' } });
    const { dir } = folders(values, io);
    const record = readStackRecord(dir);
    if (!record) {
      if (values.json) io.stdout(JSON.stringify({ dir, up: false, components: [] }) + '\n');
      else io.stdout(`no stack is up in ${dir}\n`);
      return 3;
    }
    const components = await stackStatus(record);
    if (values.json) {
      io.stdout(JSON.stringify({ dir, up: true, roots: record.roots, components }) + '\n');
    } else {
      io.stdout(`stack ${dir} (roots: ${record.roots.join(', ')})\n` + components.map((c) =>
        `${c.name.padEnd(10)} ${c.address.padEnd(22)} ${String(c.pid ?? '-').padEnd(8)} ${c.health}`)
        .join('\n') + '\n');
    }
    return components.every((c) => c.healthy) ? 0 : 1;
  },
};
