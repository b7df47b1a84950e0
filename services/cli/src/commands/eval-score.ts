// `delta eval score`: scores a file of given responses with a task's scorer and prints one JSON
// object of metrics on stdout. Runs no model. Malformed or unmatched response lines stop it
// with the file and line at fault, unless --skip-bad-lines, which skips them and reports them.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

import { DEFAULT_BOOTSTRAP_SAMPLES, getTask, scoreFiles, type ScoreReport } from '@delta/evals';

import { CliError, type Command, type CommandIo } from '../command.js';

const USAGE = `usage: delta eval score --task <name> --data <file> --responses <file> [options]

Scores given responses with a task's scorer; prints one JSON object of metrics on stdout.

  --task <name>              task: gsm8k, ifeval, math, mmlu, mmlu_cloze, ...
  --data <file>              the task's data (GSM8K test.jsonl, IFEval input_data.jsonl, ...)
  --responses <file>         JSONL, one {"prompt"|"question"|"id", "response"} per line
  --details <file>           also write one JSON line per scored item with its verdict
  --bootstrap-samples <n>    resamples for the 95% confidence intervals (default ${DEFAULT_BOOTSTRAP_SAMPLES})
  --seed <n>                 seed of the resampling (default 0)
  --skip-bad-lines           score the good lines and report malformed or unmatched ones
                             instead of failing on the first
`;

/** The command module for `delta eval score`. */
export const evalScore: Command = {
  words: ['eval', 'score'],
  summary: 'score given responses with a benchmark task; prints metrics as JSON',
  usage: USAGE,
  run,
};

async function run(args: string[], io: CommandIo): Promise<number> {
  const options = parse(args);
  const task = getTask(options.task);
  const report = await scoreFiles(task, options.data, options.responses, {
    samples: options.bootstrapSamples,
    seed: options.seed,
  });

  const bad = [...report.responses.malformed, ...report.responses.unmatched].sort((a, b) => a.line - b.line);
  if (bad.length && !options.skipBadLines) {
    const first = bad[0]!;
    const more = bad.length > 1 ? ` (${bad.length} bad lines in all; --skip-bad-lines scores the rest)` : '';
    io.stderr(`delta eval score: ${options.responses}:${first.line}: ${first.reason}${more}\n`);
    return 1;
  }
  for (const line of bad) io.stderr(`delta eval score: skipped ${options.responses}:${line.line}: ${line.reason}\n`);
  if (report.responses.scored === 0) {
    io.stderr(`delta eval score: ${options.responses}: no response matches an item of ${options.data}\n`);
    return 1;
  }

  if (options.details) await writeDetails(options.details, report);
  io.stdout(JSON.stringify(summary(options, report)) + '\n');
  return 0;
}

interface Options {
  task: string;
  data: string;
  responses: string;
  details?: string;
  bootstrapSamples: number;
  seed: number;
  skipBadLines: boolean;
}

function parse(args: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        task: { type: 'string' },
        data: { type: 'string' },
        responses: { type: 'string' },
        details: { type: 'string' },
        'bootstrap-samples': { type: 'string' },
        seed: { type: 'string' },
        'skip-bad-lines': { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new CliError((err as Error).message, { cause: err });
  }
  for (const name of ['task', 'data', 'responses'] as const) {
    if (!values[name]) throw new CliError(`--${name} is required`);
  }
  return {
    task: values.task!,
    data: values.data!,
    responses: values.responses!,
    details: values.details,
    bootstrapSamples: integer(values['bootstrap-samples'], 'bootstrap-samples', DEFAULT_BOOTSTRAP_SAMPLES),
    seed: integer(values.seed, 'seed', 0),
    skipBadLines: values['skip-bad-lines'] ?? false,
  };
}

function integer(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/u.test(raw) || !Number.isSafeInteger(n)) {
    throw new CliError(`--${name} must be a non-negative integer, got "${raw}"`);
  }
  return n;
}

/** The printed object: metrics by name, then how every response line fared. */
function summary(options: Options, report: ScoreReport) {
  const { result, responses } = report;
  return {
    task: result.task,
    n: responses.scored,
    primary_metric: result.primaryMetric,
    metrics: Object.fromEntries(result.metrics.map((m) => [
      m.name,
      { value: m.value, ci_low: m.ciLow, ci_high: m.ciHigh, n: m.n },
    ])),
    responses: {
      file: options.responses,
      scored: responses.scored,
      malformed: responses.malformed.length,
      unmatched: responses.unmatched.length,
      skipped_lines: [...responses.malformed, ...responses.unmatched].map((l) => l.line).sort((a, b) => a - b),
    },
    data: { file: options.data, missing: responses.missing },
    bootstrap: { samples: options.bootstrapSamples, seed: options.seed },
  };
}

async function writeDetails(file: string, report: ScoreReport): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([err]) => {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`, { exitCode: 1, cause: err });
  });
  for (const item of report.items) {
    const line = JSON.stringify({ id: item.id, response_line: item.line, score: item.score, ...item.detail });
    if (!out.write(line + '\n')) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
}
