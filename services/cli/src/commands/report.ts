// `delta report <run>`: writes a run's report again from its state.json and the files its jobs
// wrote (a newer CLI's report of an old run, or a run whose report stage failed). It needs no
// service; a run whose evaluation has not finished gets a report of what exists.
import type { Command, CommandIo } from '../command.js';
import { readState, runFolder, runsDir } from '../run/state.js';
import { writeReport } from '../report/write.js';
import { FOLDER_OPTIONS, onePositional, parse } from './options.js';

const USAGE = `usage: delta report <run id | run folder> [--runs-dir <dir>]

Writes report.json, report.md and report.html into the run folder from its state.json; prints
their paths as one JSON object. It contacts no service.
`;

/** The command module for `delta report`. */
export const reportCommand: Command = {
  words: ['report'],
  summary: "write a run's report (again) from its state",
  usage: USAGE,
  run,
};

async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parse(args, { ...FOLDER_OPTIONS });
  const env = io.env ?? process.env;
  const dir = runFolder(onePositional(positionals, 'run id'),
    runsDir(values['runs-dir'], env, io.cwd ?? process.cwd()));
  const files = await writeReport(readState(dir), dir);
  io.stderr(`report: ${files.html}\n`);
  io.stdout(JSON.stringify(files) + '\n');
  return 0;
}
