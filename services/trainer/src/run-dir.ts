// The output folder of a training run and its layout: spec.json (what the folder trains, by
// hash), data/ (the snapshot of the pairs), reference/ (the reference log-prob cache),
// checkpoints/step-N and the `latest` pointer, metrics.jsonl (one line per step), model/ (the
// tuned model and its ONNX export), events.jsonl (each start, resume, stop and end) and
// summary.json (written last: the run is complete). It decides nothing about training; it keeps
// the files consistent across kills.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Thrown when the folder belongs to a run with other settings. */
export class RunDirConflict extends Error {
  override readonly name = 'RunDirConflict';
}

/** A checkpoint found in the folder. */
export interface CheckpointRef {
  name: string;
  dir: string;
  step: number;
}

/** Canonical JSON (sorted keys, bigints as strings) hashed with SHA-256. */
export function hashOf(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex');
}

/** Writes a file by writing beside it and renaming, so readers see the old or the new one. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** One run's output folder. */
export class RunDir {
  readonly specFile: string;
  readonly dataDir: string;
  readonly referenceDir: string;
  readonly checkpointsDir: string;
  readonly metricsFile: string;
  readonly modelDir: string;
  readonly summaryFile: string;
  readonly eventsFile: string;
  private readonly latestFile: string;

  constructor(readonly root: string) {
    this.specFile = path.join(root, 'spec.json');
    this.dataDir = path.join(root, 'data');
    this.referenceDir = path.join(root, 'reference');
    this.checkpointsDir = path.join(root, 'checkpoints');
    this.metricsFile = path.join(root, 'metrics.jsonl');
    this.modelDir = path.join(root, 'model');
    this.summaryFile = path.join(root, 'summary.json');
    this.eventsFile = path.join(root, 'events.jsonl');
    this.latestFile = path.join(this.checkpointsDir, 'latest');
  }

  /**
   * Takes the folder for a run whose settings hash to `specHash`: a new folder records the
   * spec; a folder of the same spec is resumed; a folder of another spec is refused.
   */
  async claim(specHash: string, spec: unknown): Promise<'new' | 'resume'> {
    const held = await this.heldHash();
    if (held !== undefined) {
      if (held !== specHash) {
        throw new RunDirConflict(`${this.root} holds a run with other settings (spec hash ` +
          `${held.slice(0, 12)}, this job's is ${specHash.slice(0, 12)}); choose a new ` +
          'output_dir, or delete the folder to start over');
      }
      return 'resume';
    }
    await mkdir(this.root, { recursive: true });
    await writeAtomic(this.specFile,
      `${JSON.stringify({ format: 'delta-trainer-run/1', specHash, spec }, null, 2)}\n`);
    return 'new';
  }

  /** The spec hash the folder was claimed with, if any. */
  async heldHash(): Promise<string | undefined> {
    if (!existsSync(this.specFile)) return undefined;
    const held = JSON.parse(await readFile(this.specFile, 'utf8')) as { specHash?: string };
    return held.specHash;
  }

  /** The checkpoint `latest` points at, if one was written. */
  async latest(): Promise<CheckpointRef | undefined> {
    if (!existsSync(this.latestFile)) return undefined;
    const name = (await readFile(this.latestFile, 'utf8')).trim();
    const match = /^step-(\d+)$/.exec(name);
    const dir = path.join(this.checkpointsDir, name);
    if (!match || !existsSync(dir)) {
      throw new Error(`${this.latestFile} names "${name}", which is not a checkpoint here`);
    }
    return { name, dir, step: Number(match[1]) };
  }

  /** Where the checkpoint of a step goes. */
  checkpointDir(step: number): string {
    return path.join(this.checkpointsDir, `step-${step}`);
  }

  /**
   * Points `latest` at a written checkpoint, then drops all but the newest `keep` up to it and
   * any later one (left by an attempt that failed after writing it).
   */
  async setLatest(step: number, keep: number): Promise<void> {
    await mkdir(this.checkpointsDir, { recursive: true });
    await writeAtomic(this.latestFile, `step-${step}\n`);
    const steps = (await readdir(this.checkpointsDir))
      .map((n) => /^step-(\d+)$/.exec(n)).filter((m) => m !== null)
      .map((m) => Number(m![1])).sort((a, b) => b - a);
    const older = steps.filter((s) => s <= step);
    const drop = [...steps.filter((s) => s > step), ...older.slice(Math.max(1, keep))];
    for (const old of drop) await rm(this.checkpointDir(old), { recursive: true, force: true });
  }

  /** Keeps only the metrics lines of steps up to `step` (the steps a resume keeps). */
  async truncateMetrics(step: number): Promise<void> {
    if (!existsSync(this.metricsFile)) return;
    const kept = (await readFile(this.metricsFile, 'utf8')).split('\n').filter((line) => {
      if (!line) return false;
      try {
        return (JSON.parse(line) as { step?: number }).step! <= step;
      } catch {
        return false; // a line cut short by a kill
      }
    });
    await writeAtomic(this.metricsFile, kept.map((l) => `${l}\n`).join(''));
  }

  /** Appends what happened to the run ("start", "resume", "stop", "end") to events.jsonl. */
  async event(event: string, fields: Record<string, unknown> = {}): Promise<void> {
    const line = { event, at: new Date().toISOString(), pid: process.pid, ...fields };
    await appendFile(this.eventsFile, `${JSON.stringify(line)}\n`);
  }

  /** Appends one JSON line to metrics.jsonl. */
  async appendMetrics(line: Record<string, unknown>): Promise<void> {
    await appendFile(this.metricsFile, `${JSON.stringify(line)}\n`);
  }
}
