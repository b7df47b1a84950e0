// Drives a run through its stages - world, generate, pair, train, evaluate, report - over gRPC,
// recording every job in state.json. Each stage is idempotent: a finished stage is skipped, a
// job in flight is reattached by its id, and a failed or cancelled job is started again under
// a new attempt (the services resume its work: answered prompts, checkpoints). The jobs run in
// the services; this loop only starts and watches them, so it may stop and resume at any time.
import path from 'node:path';
import { JobState } from '@delta/contracts';
import { taskNames } from '@delta/evals';

import { RunError } from '../errors.js';
import {
  evaluationSpec, generationSpec, pairingSpec, RunLayout, trainingSpec,
} from '../pipeline/specs.js';
import { buildWorld, resolvePaths } from '../pipeline/world.js';
import type { ProgressSink } from '../progress/progress.js';
import { writeReport } from '../report/write.js';
import type { Clients, ServiceName } from '../services.js';
import { followJob, isEnded, jobOps, startJob, type JobView } from './jobs.js';
import type { JobEntry, RunState, RunStore, StageName } from './state.js';

/** What a run needs besides its state. */
export interface DriverOptions {
  store: RunStore;
  clients: Clients;
  progress: ProgressSink;
  /** Aborted on Ctrl-C: the driver stops watching; the jobs go on in the services. */
  signal: AbortSignal;
  /** How long a service may be unreachable before the run stops. */
  reconnectMs: number;
  /** Creates topics the run writes to, when the CLI can reach the broker (a local stack). */
  ensureTopics?: (topics: string[]) => Promise<void>;
}

/** One job a stage needs: its name in the stage, the service and how to build its spec. */
interface PlannedJob {
  name: string;
  service: ServiceName;
  spec: () => unknown;
}

/**
 * Runs every stage that is not done. Resolves when the report is written; throws RunError when
 * a job fails or a service stays away; returns early (state `interrupted`) when aborted.
 */
export async function driveRun(options: DriverOptions): Promise<void> {
  const { store } = options;
  store.update((s) => {
    s.state = 'running';
    delete s.error;
  });
  try {
    await worldStage(options);
    const layout = new RunLayout(store.dir);
    const p = store.state.pipeline;
    const paths = () => store.state.paths!;

    await runStage(options, 'generate', p.generate.map((g) => ({
      name: g.name, service: 'generator', spec: () => generationSpec(p, paths(), g),
    })));
    await runStage(options, 'pair', p.pairs.map((pairing) => ({
      name: pairing.name, service: 'pairer', spec: () => pairingSpec(p, pairing, layout),
    })));
    await runStage(options, 'train', p.experiments.map((e) => ({
      name: e.name, service: 'trainer', spec: () => trainingSpec(p, paths(), e, layout),
    })));
    await runStage(options, 'evaluate', p.evaluate.models.map((model) => ({
      name: model, service: 'evaluator',
      spec: () => evaluationSpec(p, paths(), layout, model, trainedFolder(store.state, model)),
    })));
    if (options.signal.aborted) return interrupted(options);
    await reportStage(options);
    store.update((s) => {
      s.state = 'succeeded';
    });
  } catch (err) {
    if (options.signal.aborted && !(err instanceof RunError && err.code === 'JOB')) {
      return interrupted(options);
    }
    store.update((s) => {
      s.state = 'failed';
      s.error = (err as Error).message;
    });
    throw err;
  }
}

function interrupted(options: DriverOptions): void {
  options.store.update((s) => {
    s.state = 'interrupted';
    for (const stage of Object.values(s.stages)) if (stage.state === 'running') stage.state = 'pending';
  });
}

/** The tuned model folder the trainer reported for an experiment, if it has finished. */
function trainedFolder(state: RunState, model: string): string | undefined {
  const status = state.stages.train.jobs[model]?.status as { modelDir?: string } | undefined;
  return status?.modelDir || undefined;
}

async function worldStage(options: DriverOptions): Promise<void> {
  const { store, progress } = options;
  const { pipeline } = store.state;
  if (!pipeline.world) {
    if (!store.state.paths) store.update((s) => { s.paths = resolvePaths(pipeline); });
    return;
  }
  if (store.state.stages.world.state === 'done' && store.state.paths) return;
  setStage(options, 'world', 'running');
  const world = await buildWorld(pipeline.world, (event) => worldProgress(progress, event));
  const paths = resolvePaths(pipeline, world);
  // Task names were left unchecked until the world had registered its own.
  const unknown = pipeline.evaluate.tasks.map((t, i) => ({ name: t.name, i }))
    .filter((t) => !taskNames().includes(t.name));
  if (unknown.length) {
    throw new RunError('PIPELINE', unknown.map((t) => `${pipeline.file}: evaluate.tasks[${t.i}]` +
      `.name: unknown task '${t.name}' (known once the world is built: ${taskNames().join(', ')})`)
      .join('\n'));
  }
  store.update((s) => {
    s.world = world;
    s.paths = paths;
  });
  setStage(options, 'world', 'done', `${Object.keys(world.models).length} models, ` +
    `${Object.keys(world.prompts).length} prompt sets`);
}

/**
 * Shows what the world reports: a string as a line; an object with a stage (or message) and
 * counts as a bar of its own, so a ladder trained step by step does not print a line a step.
 */
function worldProgress(progress: ProgressSink, event: unknown): void {
  if (!event || typeof event !== 'object') {
    progress.note(`world: ${String(event)}`);
    return;
  }
  const e = event as { stage?: unknown; message?: unknown; done?: unknown; total?: unknown;
    unit?: unknown };
  const name = String(e.stage ?? e.message ?? 'world');
  if (e.total === undefined && e.done === undefined) {
    progress.note(`world: ${name}`);
    return;
  }
  const done = Number(e.done ?? 0);
  const total = Number(e.total ?? 0);
  progress.job('world', name, {
    state: total > 0 && done >= total ? 'SUCCEEDED' : 'RUNNING',
    progress: { done, total, unit: String(e.unit ?? ''), stage: String(e.message ?? '') },
  });
}

function setStage(options: DriverOptions, stage: StageName, state: 'running' | 'done' | 'failed',
  detail?: string): void {
  const now = new Date().toISOString();
  options.store.update((s) => {
    const entry = s.stages[stage];
    entry.state = state;
    if (state === 'running') entry.startedAt ??= now;
    else entry.endedAt = now;
    if (state === 'failed') entry.error = detail;
    else delete entry.error;
  });
  options.progress.stage(stage, state, detail);
}

function jobIdOf(runId: string, stage: StageName, name: string, attempt: number): string {
  return `${runId}.${stage}.${name}.${attempt}`;
}

async function runStage(options: DriverOptions, stage: StageName, jobs: PlannedJob[]):
  Promise<void> {
  const { store, progress } = options;
  if (store.state.stages[stage].state === 'done') return;
  if (options.signal.aborted) return;
  setStage(options, stage, 'running');
  if (stage === 'generate') await options.ensureTopics?.([store.state.pipeline.topics.responses]);

  // Start (or find again) every job first: the services queue them, so work never waits on
  // this loop; then follow them all.
  const followed: Promise<JobView>[] = [];
  const runId = store.state.runId;
  for (const planned of jobs) {
    const entry = store.state.stages[stage].jobs[planned.name];
    if (entry?.state === 'SUCCEEDED') continue;
    const retry = entry && ['FAILED', 'CANCELLED'].includes(entry.state);
    const attempt = !entry ? 1 : retry ? entry.attempt + 1 : entry.attempt;
    if (retry) progress.note(`${stage} ${planned.name}: attempt ${attempt} after ${entry.state}`);
    const ops = jobOps(options.clients, planned.service);
    const address = store.state.addresses[planned.service];
    const jobId = jobIdOf(runId, stage, planned.name, attempt);
    let view: JobView;
    try {
      view = await startJob(ops, planned.service, address, { runId, jobId, spec: planned.spec() },
        { signal: options.signal, reconnectMs: options.reconnectMs });
    } catch (err) {
      const message = `${stage} job '${planned.name}': ${(err as Error).message}`;
      setStage(options, stage, 'failed', message);
      throw new RunError(err instanceof RunError ? err.code : 'JOB', message, { cause: err });
    }
    record(options, stage, planned.name, { service: planned.service, jobId, attempt }, view);
    const following = followJob(ops, planned.service, address, jobId, {
      signal: options.signal, reconnectMs: options.reconnectMs,
      onUpdate: (v) => record(options, stage, planned.name, { service: planned.service, jobId,
        attempt }, v),
    }).then((end) => {
      if (end.state === JobState.FAILED || end.state === JobState.CANCELLED) {
        const e = end.entry.error;
        throw new RunError('JOB', `${stage} job '${planned.name}' ${end.entry.state.toLowerCase()}` +
          `${e ? `: ${e.code}: ${e.message}` : ''}`);
      }
      return end;
    });
    // Handled below with the others; this keeps an early failure from counting as unhandled.
    following.catch(() => {});
    followed.push(following);
  }

  const results = await Promise.allSettled(followed);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    const error = failed.reason as Error;
    setStage(options, stage, 'failed', error.message);
    throw error instanceof RunError ? error : new RunError('JOB', error.message, { cause: error });
  }
  if (options.signal.aborted) return;
  const empty = checkOutputs(options, stage);
  if (empty) {
    setStage(options, stage, 'failed', empty);
    throw new RunError('JOB', empty);
  }
  setStage(options, stage, 'done', stageSummary(store.state, stage));
}

/**
 * Says what a finished stage left out and refuses one that produced nothing to go on with:
 * prompts a generation rejected are listed (the first three, with their lines), a generation
 * that answered no prompt at all or a pairing that wrote no pair stops the run here, naming
 * why, rather than at a later stage with a puzzling message. Returns that message, or nothing.
 */
function checkOutputs(options: DriverOptions, stage: StageName): string | undefined {
  const jobs = options.store.state.stages[stage].jobs;
  const count = (status: Record<string, unknown>, field: string) => Number(status[field] ?? 0);
  for (const [name, job] of Object.entries(jobs)) {
    const status = (job.status ?? {}) as Record<string, unknown>;
    if (stage === 'generate') {
      const rejected = (status.rejected as string[] | undefined) ?? [];
      if (rejected.length > 0) {
        options.progress.note(`generate ${name}: ${rejected.length} prompt(s) rejected: ` +
          `${rejected.slice(0, 3).join('; ')}${rejected.length > 3 ? '; ...' : ''} ` +
          '(all in the run\'s state.json)');
      }
      if (count(status, 'promptsDone') + count(status, 'promptsSkipped') === 0) {
        return `generate job '${name}' answered no prompt: its prompt file holds ` +
          `${rejected.length ? 'no valid prompt' : 'no prompts'}`;
      }
    }
    if (stage === 'pair' && count(status, 'pairsWritten') === 0) {
      const dropped = Object.entries((status.dropped ?? {}) as Record<string, unknown>)
        .filter(([, n]) => Number(n) > 0).map(([why, n]) => `${why} ${Number(n)}`);
      return `pairing '${name}' wrote no pair from ${count(status, 'responsesRead')} ` +
        `responses${dropped.length ? ` (dropped: ${dropped.join(', ')})` : ''}; there is ` +
        'nothing to train on';
    }
  }
  return undefined;
}

function record(options: DriverOptions, stage: StageName, name: string,
  ids: Pick<JobEntry, 'service' | 'jobId' | 'attempt'>, view: JobView): void {
  const now = new Date().toISOString();
  options.store.update((s) => {
    const before = s.stages[stage].jobs[name];
    const sameJob = before?.jobId === ids.jobId;
    const entry: JobEntry = {
      ...ids, ...view.entry,
      startedAt: sameJob && before.startedAt ? before.startedAt : now,
      ...(isEnded(view.state) ? { endedAt: sameJob && before.endedAt ? before.endedAt : now } : {}),
    };
    s.stages[stage].jobs[name] = entry;
  });
  options.progress.job(stage, name, options.store.state.stages[stage].jobs[name]!);
}

function stageSummary(state: RunState, stage: StageName): string {
  const jobs = Object.values(state.stages[stage].jobs);
  const sum = (field: string) => jobs.reduce((a, j) =>
    a + Number((j.status as Record<string, unknown> | undefined)?.[field] ?? 0), 0);
  switch (stage) {
    case 'generate': return `${sum('responsesWritten')} responses from ${jobs.length} jobs`;
    case 'pair': return `${sum('pairsWritten')} pairs from ${jobs.length} pairings`;
    case 'train': return `${jobs.length} models tuned`;
    case 'evaluate': return `${jobs.length} models evaluated`;
    default: return '';
  }
}

async function reportStage(options: DriverOptions): Promise<void> {
  const { store } = options;
  setStage(options, 'report', 'running');
  try {
    const files = await writeReport(store.state, store.dir);
    store.update((s) => {
      s.report = files;
    });
    setStage(options, 'report', 'done', path.relative(process.cwd(), files.html) || files.html);
  } catch (err) {
    setStage(options, 'report', 'failed', (err as Error).message);
    throw err instanceof RunError ? err
      : new RunError('REPORT', `writing the report failed: ${(err as Error).message}`, { cause: err });
  }
}
