// The trainer service on the shared runtime: its environment, the checks a StartTraining spec
// passes before a job is queued (fields, limits, paths inside the roots, the device), and the
// job's work, which is training.ts's run wired to the job's status, signal and telemetry.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { create, toJson } from '@bufbuild/protobuf';
import {
  Device, PAIRS_TOPIC, PairSourceSchema, TrainerService, TrainingConfigSchema,
  TrainingSpecSchema, type TrainingJob, type TrainingSpec,
} from '@delta/contracts';
import { engineBackends } from '@delta/engine';
import { TRAINING, type RunningJob } from '@delta/jobs';
import { Code, env, readEnv, RpcError, Violations, type EnvValues } from '@delta/rpc';
import type { JobServiceDefinition, ServiceContext } from '@delta/service';
import { DELTA_JOB_ID, DELTA_RUN_ID } from '@delta/telemetry';
import type { DataSnapshot } from './dataset.js';
import { toJobError } from './errors.js';
import { fileSnapshot, PairLimitError } from './pairs-jsonl.js';
import { readPairsTopic, TopicReadError } from './pairs-topic.js';
import {
  DEFAULT_PRESET, fillConfig, LOSSES, PRESETS, resolveSettings, SCHEDULES,
  type TrainingSettings,
} from './presets.js';
import { hashOf } from './run-dir.js';
import { TrainerTelemetry } from './telemetry.js';
import { train } from './training.js';

/** The trainer's own variables, beside those every job service reads. */
export const trainerEnvSpec = {
  threads: env.int('DELTA_TRAINER_THREADS', { default: 0, min: 0, max: 4096,
    doc: 'CPU threads the engine computes with; 0 uses every core' }),
  maxPairs: env.int('DELTA_TRAINER_MAX_PAIRS', { default: 1_000_000, min: 1,
    doc: 'most pairs one job may read' }),
  maxLength: env.int('DELTA_TRAINER_MAX_LENGTH', { default: 32_768, min: 2,
    doc: 'largest config.max_length a job may ask for' }),
  maxBatch: env.int('DELTA_TRAINER_MAX_BATCH', { default: 4096, min: 1,
    doc: 'largest config.batch_size a job may ask for' }),
  readTimeoutMs: env.int('DELTA_TRAINER_READ_TIMEOUT_MS', { default: 120_000, min: 1000,
    doc: 'longest time to read the pairs topic up to its end offsets' }),
  keepCheckpoints: env.int('DELTA_TRAINER_KEEP_CHECKPOINTS', { default: 2, min: 1, max: 10_000,
    doc: 'checkpoints kept in an output folder (the newest ones)' }),
  referenceChunk: env.int('DELTA_TRAINER_REFERENCE_CHUNK', { default: 256, min: 1,
    doc: 'pairs per reference log-prob cache file (a stopped job keeps finished chunks)' }),
  evalMaxPairs: env.int('DELTA_TRAINER_EVAL_MAX_PAIRS', { default: 512, min: 1,
    doc: 'most pairs one evaluation of reward accuracy scores' }),
};

type Limits = EnvValues<typeof trainerEnvSpec>;

/** The trainer's limits from the service's variables. */
export function trainerLimits(vars: Readonly<Record<string, string | undefined>>): Limits {
  return readEnv(trainerEnvSpec, vars);
}

const PRESET_NAMES = Object.keys(PRESETS);

/** Adds a violation for every setting outside what the engine and this service accept. */
export function checkSettings(v: Violations, s: TrainingSettings, limits: Limits): void {
  const f = (name: string) => `spec.config.${name}`;
  v.oneOf(f('loss'), s.loss, LOSSES);
  if (s.loss !== 'sft' && !(s.beta > 0 && s.beta <= 1e6)) {
    v.add(f('beta'), `${s.beta} must be in (0, 1e6]; a zero beta never moves the policy away ` +
      'from the reference');
  }
  if (v.inRange(f('label_smoothing'), s.labelSmoothing, 0, 0.499999) && s.labelSmoothing > 0 &&
    (s.loss === 'ipo' || s.loss === 'hinge' || s.loss === 'sft')) {
    v.add(f('label_smoothing'), `applies to sigmoid, dpo_norm, robust and simpo, not ${s.loss}`);
  }
  v.inRange(f('nll_weight'), s.nllWeight, 0, 1000);
  v.inRange(f('simpo_gamma'), s.simpoGamma, -1000, 1000);
  if (!(s.learningRate > 0 && s.learningRate <= 10)) {
    v.add(f('learning_rate'), `${s.learningRate} must be in (0, 10]`);
  }
  v.oneOf(f('schedule'), s.schedule, SCHEDULES);
  v.inRange(f('min_lr_ratio'), s.minLrRatio, 0, 1);
  v.inRange(f('warmup_ratio'), s.warmupRatio, 0, 0.999999);
  v.inRange(f('weight_decay'), s.weightDecay, 0, 10);
  v.inRange(f('adam_beta1'), s.adamBeta1, 0, 0.999999);
  v.inRange(f('adam_beta2'), s.adamBeta2, 0, 0.999999);
  if (!(s.adamEps > 0 && s.adamEps <= 1)) v.add(f('adam_eps'), `${s.adamEps} must be in (0, 1]`);
  v.inRange(f('max_grad_norm'), s.maxGradNorm, 0, 1e6);
  v.inRange(f('epochs'), s.epochs, 1, 1000);
  if (v.inRange(f('batch_size'), s.batchSize, 1, limits.maxBatch)) {
    v.inRange(f('micro_batch_size'), s.microBatchSize, 1, s.batchSize);
  }
  v.inRange(f('max_length'), s.maxLength, 2, limits.maxLength);
  v.inRange(f('eval_fraction'), s.evalFraction, 0, 0.5);
}

/** The device a spec asks for, refused when this engine build cannot compute on it. */
function checkDevice(device: Device): void {
  if (device !== Device.CUDA) return;
  if (!engineBackends().includes('cuda')) {
    throw new RpcError(Code.FAILED_PRECONDITION, 'spec.device: DEVICE_CUDA is not available: ' +
      `this build of the engine computes on ${engineBackends().join(', ')} only; use DEVICE_CPU`);
  }
}

/** The spec's pair source; without one the job reads its run's pairs from delta.pairs. */
function sourceOf(spec: TrainingSpec): NonNullable<TrainingSpec['pairs']>['source'] {
  if (!spec.pairs?.source.case) {
    spec.pairs = create(PairSourceSchema, { source: { case: 'topic', value: PAIRS_TOPIC } });
  }
  return spec.pairs.source;
}

/** Paths of a spec resolved inside the service's roots. */
interface ResolvedPaths {
  studentDir: string;
  outputDir: string;
  pairsFile?: string;
}

async function resolvePaths(spec: TrainingSpec, ctx: ServiceContext): Promise<ResolvedPaths> {
  const source = sourceOf(spec);
  const studentDir = await ctx.roots.resolveModel(spec.student, 'spec.student');
  if (!existsSync(path.join(studentDir, 'config.json'))) {
    throw new RpcError(Code.INVALID_ARGUMENT,
      `spec.student: "${spec.student}" is not a model folder (no config.json)`);
  }
  const outputDir = await ctx.roots.resolveOutput(spec.outputDir, 'spec.output_dir');
  if (source.case !== 'file') return { studentDir, outputDir };
  const pairsFile = await ctx.roots.resolveData(source.value, 'spec.pairs.file');
  if (!existsSync(pairsFile)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `spec.pairs.file: "${source.value}" not found`);
  }
  return { studentDir, outputDir, pairsFile };
}

function contextLength(studentDir: string): number | undefined {
  const config = JSON.parse(readFileSync(path.join(studentDir, 'config.json'), 'utf8')) as
    { max_position_embeddings?: unknown };
  return typeof config.max_position_embeddings === 'number'
    ? config.max_position_embeddings : undefined;
}

/** Checks a spec and writes the preset's values into its config (the stored spec shows them). */
export async function prepareTraining(spec: TrainingSpec, ctx: ServiceContext): Promise<void> {
  const limits = trainerLimits(ctx.env);
  const v = new Violations();
  v.required('spec.student', spec.student);
  v.required('spec.output_dir', spec.outputDir);
  const source = sourceOf(spec);
  if (source.case === 'topic' && !/^[a-zA-Z0-9._-]{1,249}$/.test(source.value)) {
    v.add('spec.pairs.topic', `"${source.value}" is not a topic name`);
  } else v.required(`spec.pairs.${source.case}`, source.value);
  const preset = spec.preset || DEFAULT_PRESET;
  if (v.oneOf('spec.preset', preset, PRESET_NAMES)) {
    checkSettings(v, resolveSettings(preset, spec.config), limits);
  }
  v.throwIfAny();
  checkDevice(spec.device);

  const paths = await resolvePaths(spec, ctx);
  const settings = resolveSettings(preset, spec.config);
  const context = contextLength(paths.studentDir);
  // A preset's length gives way to a shorter student; a length the job asks for does not.
  if (context !== undefined && spec.config?.maxLength === undefined) {
    settings.maxLength = Math.min(settings.maxLength, context);
  }
  if (context !== undefined && settings.maxLength > context) {
    v.add('spec.config.max_length', `${settings.maxLength} is above the student's context ` +
      `length ${context} (config.json max_position_embeddings)`);
    v.throwIfAny();
  }
  spec.config ??= create(TrainingConfigSchema);
  fillConfig(spec.config, settings);
}

const telemetryOf = new WeakMap<ServiceContext, TrainerTelemetry>();

/** Output folders of the jobs running in this process, so two jobs never write one folder. */
const busy = new Map<string, string>();

/** Runs one training job: the recipe in training.ts with this job's source and status. */
export async function runTraining(job: RunningJob<TrainingJob>, ctx: ServiceContext):
  Promise<void> {
  const spec = job.spec;
  const limits = trainerLimits(ctx.env);
  checkDevice(spec.device);
  const paths = await resolvePaths(spec, ctx);
  const settings = resolveSettings(spec.preset, spec.config);
  const source = sourceOf(spec);
  const specHash = hashOf({
    student: paths.studentDir,
    source: source.case === 'topic' ? { topic: source.value, runId: job.runId }
      : { file: paths.pairsFile },
    settings,
    device: spec.device === Device.CUDA ? 'cuda' : 'cpu',
    reversePairs: spec.reversePairs,
  });

  let telemetry = telemetryOf.get(ctx);
  if (!telemetry) {
    telemetry = new TrainerTelemetry(ctx.telemetry.meter('delta-trainer'),
      ctx.telemetry.tracer('delta-trainer'));
    telemetryOf.set(ctx, telemetry);
  }

  const holder = busy.get(paths.outputDir);
  if (holder !== undefined) {
    throw new RpcError(Code.FAILED_PRECONDITION, `spec.output_dir: "${spec.outputDir}" is in ` +
      `use by job ${holder}; wait for it to end or choose another folder`);
  }
  busy.set(paths.outputDir, job.jobId);
  try {
    await trainJob(job, ctx, paths, settings, specHash, limits, telemetry);
  } finally {
    busy.delete(paths.outputDir);
  }
}

async function trainJob(
  job: RunningJob<TrainingJob>,
  ctx: ServiceContext,
  paths: ResolvedPaths,
  settings: TrainingSettings,
  specHash: string,
  limits: Limits,
  telemetry: TrainerTelemetry,
): Promise<void> {
  const spec = job.spec;
  const outcome = await train({
    studentDir: paths.studentDir,
    outputDir: paths.outputDir,
    outputName: spec.outputDir,
    settings,
    reversePairs: spec.reversePairs,
    exportOnnx: !spec.skipOnnxExport,
    specHash,
    specJson: toJson(TrainingSpecSchema, spec),
    threads: limits.threads || availableParallelism(),
    device: spec.device === Device.CUDA ? 'cuda' : 'cpu',
    keepCheckpoints: limits.keepCheckpoints,
    referenceChunk: limits.referenceChunk,
    evalMaxPairs: limits.evalMaxPairs,
    readSource: (signal) => readSource(spec, paths, job.runId, ctx, limits, signal),
    status: job.status,
    signal: job.signal,
    report: (p) => job.report({ ...p, unit: 'steps' }),
    telemetry,
    attributes: { [DELTA_RUN_ID]: job.runId, [DELTA_JOB_ID]: job.jobId },
  });
  const st = job.status;
  if (st.rejected.length > 0) {
    ctx.logger.warn({ rejected: st.rejected.slice(0, 10), count: st.rejected.length },
      'pairs skipped as malformed');
  }
  ctx.logger.info({ outcome, step: st.step, total_steps: st.totalSteps, loss: st.loss,
    eval_reward_accuracy: st.evalRewardAccuracy, pairs_used: Number(st.pairsUsed),
    dropped: Object.fromEntries(Object.entries(st.dropped).map(([k, v]) => [k, Number(v)])),
    checkpoint: st.checkpointDir, model: st.modelDir }, `training ${outcome}`);
}

/** Reads the job's pairs from its topic or file; refuses a source without a usable pair. */
async function readSource(
  spec: TrainingSpec,
  paths: ResolvedPaths,
  runId: string,
  ctx: ServiceContext,
  limits: Limits,
  signal: AbortSignal,
): Promise<DataSnapshot> {
  const source = sourceOf(spec);
  if (source.case === 'topic') {
    const read = await readPairsTopic(ctx.stream, source.value, runId, {
      timeoutMs: limits.readTimeoutMs, maxPairs: limits.maxPairs, signal,
    }).catch((err: unknown) => {
      if (!(err instanceof TopicReadError)) throw toJobError(err, 'spec.pairs.topic');
      if (err.reason === 'aborted') return undefined;
      const code = { missing: Code.FAILED_PRECONDITION, timeout: Code.DEADLINE_EXCEEDED,
        too_many: Code.RESOURCE_EXHAUSTED }[err.reason];
      throw new RpcError(code, `spec.pairs.topic: ${err.message}`, err);
    });
    if (!read) return { source: { kind: 'topic', name: source.value, rejected: [], duplicates: 0 },
      pairs: [] };
    if (read.pairs.length === 0) {
      throw new RpcError(Code.FAILED_PRECONDITION, `spec.pairs.topic: no pairs of run ${runId} ` +
        `in ${source.value} (${read.records} records read up to offsets ` +
        `${JSON.stringify(read.endOffsets)}); start the job in the run the pairer wrote`);
    }
    return {
      source: { kind: 'topic', name: source.value, runId, endOffsets: read.endOffsets,
        rejected: read.malformed.map((m) => `${m}: not a delta.v1.Pair`),
        duplicates: read.duplicates },
      pairs: read.pairs,
    };
  }

  const name = source.value!;
  const snapshot = await fileSnapshot(paths.pairsFile!, name,
    { maxPairs: limits.maxPairs, signal }).catch((err: unknown) => {
    if (err instanceof PairLimitError) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `spec.pairs.file: ${err.message}`, err);
    }
    throw toJobError(err, `spec.pairs.file: reading ${name}`);
  });
  if (snapshot.pairs.length === 0 && !signal.aborted) {
    const why = snapshot.source.rejected.slice(0, 3).join('; ') || 'it is empty';
    throw new RpcError(Code.FAILED_PRECONDITION,
      `spec.pairs.file: ${name} holds no usable pair (${why})`);
  }
  return snapshot;
}

/** The trainer service: StartTraining, WatchTraining, GetTraining, CancelTraining. */
export const trainerDefinition: JobServiceDefinition<TrainingJob> = {
  name: 'trainer',
  defaultPort: 50053,
  kind: TRAINING,
  service: TrainerService,
  prepare: prepareTraining,
  run: runTraining,
  concurrency: 1,
};
