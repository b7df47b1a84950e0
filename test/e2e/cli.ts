// What the end-to-end tests share: running the built `delta` command as a person would, and
// a test folder whose pipeline, topics, runs and stack are its own on the shared broker.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniqueName } from '@delta/stream/testing';
import { parse, stringify } from 'yaml';

/** The repository's root folder. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built `delta` command's entry point. */
export const bin = path.join(repoRoot, 'services', 'cli', 'dist', 'bin.js');

/** How a `delta` command ended. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `delta` command in `cwd` with `env`, as a person would. */
export function runDelta(args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined> }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The JSON object a command prints last on stdout. */
export function lastJson(text: string): Record<string, unknown> {
  return JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/**
 * A new test folder holding `examples/<example>` rewritten with topics of its own and its
 * world cached in the folder, and the environment that keeps its jobs, runs and stack apart.
 */
export function testFolder(example: string, edit: (pipeline: Record<string, Record<string,
  unknown>>, work: string) => void = () => {}): { work: string;
  env: Record<string, string | undefined> } {
  const work = mkdtempSync(path.join(tmpdir(), 'delta-e2e-'));
  const pipeline = parse(readFileSync(path.join(repoRoot, 'examples', example), 'utf8')) as
    Record<string, Record<string, unknown>>;
  pipeline.world!.cache = path.join(work, 'world');
  pipeline.topics = { responses: uniqueName('delta.responses'), pairs: uniqueName('delta.pairs') };
  edit(pipeline, work);
  writeFileSync(path.join(work, example), stringify(pipeline));
  const env: Record<string, string | undefined> = { ...process.env,
    DELTA_JOBS_TOPIC: uniqueName('delta.jobs'), DELTA_RUNS_DIR: path.join(work, 'runs'),
    DELTA_STACK_DIR: path.join(work, 'stack') };
  for (const name of ['GENERATOR', 'PAIRER', 'TRAINER', 'EVALUATOR']) {
    delete env[`DELTA_${name}_ADDR`];
  }
  return { work, env };
}
