// A run's folder and its state.json: the stages, the jobs each started (service, job id,
// attempt, last known state and status), the checked pipeline and where the services were.
// It is the one record `delta status`, `watch` and `resume` read; only the driver writes it,
// and every write replaces the file whole (write, then rename), so a reader never sees half.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '@bufbuild/protobuf';

import { RunError } from '../errors.js';
import type { Pipeline } from '../pipeline/types.js';
import type { ResolvedPaths, WorldOutput } from '../pipeline/world.js';
import type { Addresses, ServiceName } from '../services.js';

/** The stages of a run, in order. */
export const STAGES = ['world', 'generate', 'pair', 'train', 'evaluate', 'report'] as const;

/** One stage of a run. */
export type StageName = (typeof STAGES)[number];

/** Where a stage stands; `skipped` is a stage the pipeline does not need (no world). */
export type StageState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

/** What the driver last saw of one service job. */
export interface JobEntry {
  service: ServiceName;
  jobId: string;
  /** Starts of this job; a failed or cancelled job is started again under a new id. */
  attempt: number;
  /** A JobState name (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED), PENDING before start. */
  state: string;
  progress?: { done: number; total: number; unit: string; stage: string };
  error?: { code: string; message: string };
  /** The job's spec in protobuf JSON with proto field names, as the service keeps it. */
  spec?: JsonValue;
  /** The job's status message in protobuf JSON, as the service last reported it. */
  status?: JsonValue;
  startedAt?: string;
  endedAt?: string;
}

/** One stage's record. */
export interface StageEntry {
  state: StageState;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  jobs: Record<string, JobEntry>;
}

/** state.json. */
export interface RunState {
  version: 1;
  runId: string;
  createdAt: string;
  updatedAt: string;
  /** `interrupted`: the driver stopped (Ctrl-C, a lost service) and `delta resume` continues. */
  state: 'running' | 'succeeded' | 'failed' | 'interrupted';
  error?: string;
  pipeline: Pipeline;
  /** Absolute paths once the world (if any) is built. */
  paths?: ResolvedPaths;
  world?: WorldOutput;
  addresses: Addresses;
  /** True when the addresses were given (flags, environment): a resume keeps using them. */
  remote?: boolean;
  /** The local stack the run used, when it used one. */
  stack?: { dir: string; startedByRun: boolean };
  /** The process driving the run. */
  driver?: { pid: number; startedAt: string; detached: boolean; marker: string };
  stages: Record<StageName, StageEntry>;
  /** Report files, once written. */
  report?: { json: string; markdown: string; html: string };
}

/** A run id: the pipeline's name, the time, and a few random characters. */
export function newRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/gu, '').replace(/\..*$/u, '').replace('T', '-');
  return `${name}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The folder runs live in: --runs-dir, else DELTA_RUNS_DIR, else ./runs. */
export function runsDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd()): string {
  return path.resolve(cwd, flag || env.DELTA_RUNS_DIR || 'runs');
}

/** A run's folder from its id (under `runs`) or from a path to the folder itself. */
export function runFolder(run: string, runs: string): string {
  const direct = path.resolve(run);
  if (existsSync(path.join(direct, 'state.json'))) return direct;
  const underRuns = path.join(runs, run);
  if (existsSync(path.join(underRuns, 'state.json'))) return underRuns;
  throw new RunError('STATE', `no run '${run}': neither ${underRuns} nor ${direct} holds a ` +
    'state.json (give the run id printed by `delta run`, or the run folder)');
}

/** Reads and writes one run's state.json. */
export class RunStore {
  private constructor(readonly dir: string, private current: RunState) {}

  /** A new run folder with its first state. */
  static create(dir: string, state: RunState): RunStore {
    mkdirSync(dir, { recursive: true });
    const store = new RunStore(dir, state);
    store.save();
    return store;
  }

  /** Reads a run folder's state.json. */
  static open(dir: string): RunStore {
    return new RunStore(dir, readState(dir));
  }

  get state(): RunState {
    return this.current;
  }

  get file(): string {
    return path.join(this.dir, 'state.json');
  }

  /** Applies `change` and saves. */
  update(change: (state: RunState) => void): void {
    change(this.current);
    this.save();
  }

  /** Writes state.json whole: a temporary file renamed over the old one. */
  save(): void {
    this.current.updatedAt = new Date().toISOString();
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.current, bigintsAsText, 2) + '\n');
    renameSync(tmp, this.file);
  }
}

/** Reads state.json of a run folder; a missing or broken file is a STATE error. */
export function readState(dir: string): RunState {
  const file = path.join(dir, 'state.json');
  let parsed: RunState;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as RunState;
  } catch (err) {
    throw new RunError('STATE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.version !== 1 || !parsed.stages || !parsed.pipeline) {
    throw new RunError('STATE', `${file} is not a run state of this version of delta`);
  }
  return parsed;
}

/** A fresh record of every stage, pending (the world stage skipped when there is none). */
export function initialStages(withWorld: boolean): Record<StageName, StageEntry> {
  const stages = {} as Record<StageName, StageEntry>;
  for (const stage of STAGES) {
    stages[stage] = { state: stage === 'world' && !withWorld ? 'skipped' : 'pending', jobs: {} };
  }
  return stages;
}

function bigintsAsText(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
