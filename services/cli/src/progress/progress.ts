// Progress of a run for a person, on stderr: on a terminal, one bar per job of the stage in
// progress, redrawn in place, and one summary line per finished stage; elsewhere (a log file,
// a pipe) one plain line per change of a stage or a job's state, never a bar.
import type { JobEntry, StageName, StageState } from '../run/state.js';

/** What a progress line shows of a job (or of a step of the world's build). */
export type ProgressEntry = Pick<JobEntry, 'state' | 'progress' | 'error'>;

/** Where the driver reports what happens. */
export interface ProgressSink {
  stage(stage: StageName, state: StageState, detail?: string): void;
  job(stage: StageName, name: string, job: ProgressEntry): void;
  /** A line for the person (a stack starting, a note on a resumed job). */
  note(line: string): void;
  /** Leaves the terminal clean (the block of bars ends with a newline). */
  close(): void;
}

/** How the renderer writes. */
export interface ProgressOutput {
  write(text: string): void;
  isTty: boolean;
  columns?: number;
  /** Clock for tests; default Date.now. */
  now?: () => number;
}

/** A sink drawing bars on a terminal, or printing lines elsewhere. */
export function createProgress(out: ProgressOutput): ProgressSink {
  return out.isTty ? new BarRenderer(out) : new LineRenderer(out);
}

/** A sink that shows nothing (status commands that print their own table). */
export const silentProgress: ProgressSink = {
  stage: () => {}, job: () => {}, note: () => {}, close: () => {},
};

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function jobWords(job: ProgressEntry): string {
  const p = job.progress;
  const counts = p && (p.total || p.done) ? ` ${p.done}${p.total ? `/${p.total}` : ''} ${p.unit}` : '';
  const error = job.error ? `: ${job.error.code} ${job.error.message}` : '';
  const stage = p?.stage && !TERMINAL.has(job.state) ? ` (${p.stage})` : '';
  return `${job.state.toLowerCase()}${counts}${stage}${error}`;
}

class LineRenderer implements ProgressSink {
  private readonly last = new Map<string, string>();
  private readonly started = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly out: ProgressOutput) {
    this.now = out.now ?? Date.now;
  }

  stage(stage: StageName, state: StageState, detail?: string): void {
    if (state === 'running') this.started.set(stage, this.now());
    const took = state === 'done' && this.started.has(stage)
      ? ` in ${seconds(this.now() - this.started.get(stage)!)}` : '';
    this.out.write(`${stage}: ${state}${took}${detail ? ` - ${detail}` : ''}\n`);
  }

  job(stage: StageName, name: string, job: ProgressEntry): void {
    // A line per change of state or of the job's own stage text; counts alone do not print.
    const key = `${stage}/${name}`;
    const shown = `${job.state} ${job.progress?.stage ?? ''}`;
    if (this.last.get(key) === shown) return;
    this.last.set(key, shown);
    this.out.write(`${stage} ${name}: ${jobWords(job)}\n`);
  }

  note(line: string): void {
    this.out.write(`${line}\n`);
  }

  close(): void {}
}

interface Row {
  name: string;
  job: ProgressEntry;
}

class BarRenderer implements ProgressSink {
  private current?: StageName;
  private rows: Row[] = [];
  private drawn = 0;
  private stageStarted = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly out: ProgressOutput) {
    this.now = out.now ?? Date.now;
  }

  stage(stage: StageName, state: StageState, detail?: string): void {
    if (state === 'running') {
      this.current = stage;
      this.rows = [];
      this.stageStarted = this.now();
      this.redraw();
      return;
    }
    const took = stage === this.current ? ` in ${seconds(this.now() - this.stageStarted)}` : '';
    const mark = state === 'done' ? '✓' : state === 'failed' ? '✗' : '-';
    this.print(`${mark} ${stage} ${state}${took}${detail ? ` - ${detail}` : ''}`);
    if (stage === this.current) {
      this.rows = [];
      this.current = undefined;
    }
    this.redraw();
  }

  job(stage: StageName, name: string, job: ProgressEntry): void {
    if (stage !== this.current) return;
    const row = this.rows.find((r) => r.name === name);
    if (row) row.job = job;
    else this.rows.push({ name, job });
    this.schedule();
  }

  note(line: string): void {
    this.print(line);
    this.redraw();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** Redraws at most ten times a second. */
  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.redraw();
    }, 100);
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
  }

  private redraw(): void {
    this.clear();
    if (!this.current) return;
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const nameWidth = Math.min(24, Math.max(...this.rows.map((r) => r.name.length), 4));
    const lines = [`${this.current} (${seconds(this.now() - this.stageStarted)})`];
    for (const { name, job } of this.rows) {
      lines.push(fit(`  ${name.padEnd(nameWidth)} ${bar(job, 24)} ${jobWords(job)}`, width));
    }
    this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

function bar(job: ProgressEntry, width: number): string {
  const p = job.progress;
  let share = p && p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  if (job.state === 'SUCCEEDED') share = 1;
  const filled = Math.round(share * width);
  const percent = String(Math.round(share * 100)).padStart(3);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}%`;
}

function fit(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}
