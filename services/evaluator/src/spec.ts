// Checks an EvaluationSpec and turns it into a plan: the model folder, each task with its items
// and generation settings, and the details file, every path resolved inside the service's
// roots. Start calls it to refuse a bad spec at once; the job calls it again when it runs (also
// after a restart), so nothing it decided goes stale in the jobs topic.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { EvaluationSpec, SamplingParams as WireSampling, TaskSpec } from '@delta/contracts';
import {
  DEFAULT_BOOTSTRAP_SAMPLES,
  getTask,
  taskNames,
  type SamplingParams,
  type Task,
  type TaskDoc,
} from '@delta/evals';
import { Code, RpcError, Violations, invalidArgument } from '@delta/rpc';
import type { Roots } from '@delta/service';
import type { EvaluatorSettings } from './config.js';
import { toServiceError } from './errors.js';

/** Most tasks one evaluation may list. */
export const MAX_TASKS = 32;
/** Most worked examples before one item. */
export const MAX_FEWSHOT = 32;
/** Most extra stop strings one task may add. */
export const MAX_STOP_STRINGS = 16;

/** One task of a plan, ready for the runner. */
export interface TaskPlan {
  /** Position in spec.tasks. */
  index: number;
  /** The spec field errors about this task name: "spec.tasks[1]". */
  field: string;
  spec: TaskSpec;
  task: Task;
  /** Every item of the data: the pool few-shot examples come from. */
  docs: TaskDoc[];
  /** The items evaluated: the first `limit` of the data. */
  items: TaskDoc[];
  /** Generation settings (the task's, with the spec's overrides); undefined for choice tasks. */
  sampling: SamplingParams | undefined;
}

/** What a job runs. */
export interface EvaluationPlan {
  modelDir: string;
  tasks: TaskPlan[];
  /** Resolved details file; undefined when none was asked for. */
  detailsFile: string | undefined;
  batchSize: number;
  bootstrap: { samples: number; seed: number };
}

/** A 64-bit wire seed as a number the libraries take (its low 53 bits). */
export function seedNumber(seed: bigint): number {
  return Number(BigInt.asUintN(53, seed));
}

/** Fills the defaults a client may leave at zero, in place, so Get shows what runs. */
export function fillDefaults(spec: EvaluationSpec, settings: EvaluatorSettings): void {
  if (!spec.batchSize) spec.batchSize = settings.batchSize;
  if (!spec.bootstrapSamples) spec.bootstrapSamples = DEFAULT_BOOTSTRAP_SAMPLES;
  if (!spec.modelName && spec.model) spec.modelName = path.basename(path.resolve(spec.model));
}

/** The known tasks, for messages that name an unknown one. */
export function knownTasks(): string {
  return taskNames().join(', ');
}

/** The registered task `name`, or undefined after recording why not. */
export function lookupTask(v: Violations, field: string, name: string): Task | undefined {
  if (!v.required(field, name)) return undefined;
  if (!taskNames().includes(name)) {
    v.add(field, `unknown task "${name}"; known tasks: ${knownTasks()}`);
    return undefined;
  }
  return getTask(name);
}

function checkSampling(
  v: Violations,
  field: string,
  s: WireSampling | undefined,
  settings: EvaluatorSettings,
): void {
  if (!s) return;
  v.inRange(`${field}.temperature`, s.temperature, 0, 100);
  v.inRange(`${field}.top_p`, s.topP, 0, 1);
  if (s.n > 1) v.add(`${field}.n`, 'the evaluator draws one response per item; leave n at 0 or 1');
  v.atMost(`${field}.max_new_tokens`, s.maxNewTokens, settings.maxNewTokens);
  v.atMost(`${field}.stop`, s.stop.length, MAX_STOP_STRINGS);
  s.stop.forEach((stop, j) => {
    if (!stop) v.add(`${field}.stop[${j}]`, 'empty stop string');
  });
}

/** Checks what needs no file: counts, limits, names, sampling. Throws every violation at once. */
export function checkSpec(spec: EvaluationSpec, settings: EvaluatorSettings): Task[] {
  const v = new Violations();
  v.required('spec.model', spec.model);
  v.atMost('spec.batch_size', spec.batchSize, settings.maxBatchSize);
  v.atMost('spec.bootstrap_samples', spec.bootstrapSamples, settings.maxBootstrapSamples);
  const tasks: Task[] = [];
  const listed = v.required('spec.tasks', spec.tasks);
  if (listed && v.atMost('spec.tasks', spec.tasks.length, MAX_TASKS)) {
    const seen = new Map<string, number>();
    spec.tasks.forEach((t, i) => {
      const field = `spec.tasks[${i}]`;
      const task = lookupTask(v, `${field}.name`, t.name);
      if (task) tasks.push(task);
      const earlier = seen.get(t.name);
      if (t.name && earlier !== undefined) {
        v.add(`${field}.name`, `"${t.name}" is already spec.tasks[${earlier}]; list a task once`);
      }
      seen.set(t.name, i);
      v.atMost(`${field}.num_fewshot`, t.numFewshot, MAX_FEWSHOT);
      checkSampling(v, `${field}.sampling`, t.sampling, settings);
    });
  }
  v.throwIfAny();
  return tasks;
}

async function kind(file: string): Promise<'file' | 'dir' | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return undefined;
  return info.isDirectory() ? 'dir' : 'file';
}

/** The model folder, checked for what the evaluator opens. */
async function resolveModelDir(spec: EvaluationSpec, roots: Roots): Promise<string> {
  const dir = await roots.resolveModel(spec.model, 'spec.model');
  if ((await kind(dir)) !== 'dir') {
    throw new RpcError(Code.NOT_FOUND,
      `spec.model: folder "${spec.model}" not found in the model roots`);
  }
  for (const file of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) {
    if ((await kind(path.join(dir, file))) === 'file') continue;
    const hint = file === 'onnx/model.onnx' ? '; export the model to ONNX first (exportOnnx)'
      : file === 'tokenizer.json' ? '; tasks send text, so the evaluator needs the tokenizer' : '';
    throw new RpcError(Code.FAILED_PRECONDITION,
      `spec.model: ${file} not found in "${spec.model}"${hint}`);
  }
  return dir;
}

/**
 * A task's items: from the data file inside the data roots, or the task's built-in data when
 * no file is named. A missing file is NOT_FOUND; a bad line is INVALID_ARGUMENT naming it.
 */
export async function loadTaskData(
  task: Task,
  dataFile: string,
  roots: Roots,
  field: string,
): Promise<TaskDoc[]> {
  let docs: TaskDoc[];
  if (!dataFile) {
    if (!task.loadBuiltin) {
      throw invalidArgument(field, `required: task "${task.name}" has no built-in data`);
    }
    docs = await task.loadBuiltin().catch((err: unknown) => { throw toServiceError(err, field); });
  } else {
    const file = await roots.resolveData(dataFile, field);
    const found = await kind(file);
    if (found !== 'file') {
      throw new RpcError(Code.NOT_FOUND, found === 'dir'
        ? `${field}: "${dataFile}" is a folder, not a data file`
        : `${field}: "${dataFile}" not found in the data roots`);
    }
    docs = await task.load(file).catch((err: unknown) => { throw toServiceError(err, field); });
  }
  if (docs.length === 0) throw invalidArgument(field, `task "${task.name}" found no items there`);
  return docs;
}

/** The task's generation settings with the spec's overrides; extra stop strings are added. */
export function taskSampling(
  task: Task,
  s: WireSampling | undefined,
  seed: bigint,
): SamplingParams | undefined {
  if (task.kind !== 'generation') return undefined;
  const out: SamplingParams = { ...task.sampling };
  if (s?.temperature) out.temperature = s.temperature;
  if (s?.topK) out.topK = s.topK;
  if (s?.topP) out.topP = s.topP;
  if (s?.maxNewTokens) out.maxNewTokens = s.maxNewTokens;
  if (s?.stop.length) out.stop = [...(task.sampling.stop ?? []), ...s.stop];
  out.seed = seedNumber(s?.seed || seed);
  return out;
}

/** Checks the whole spec against the files and returns what the job runs. */
export async function planEvaluation(
  spec: EvaluationSpec,
  roots: Roots,
  settings: EvaluatorSettings,
): Promise<EvaluationPlan> {
  const tasks = checkSpec(spec, settings);
  const modelDir = await resolveModelDir(spec, roots);

  const plans: TaskPlan[] = [];
  for (const [index, t] of spec.tasks.entries()) {
    const field = `spec.tasks[${index}]`;
    const task = tasks[index]!;
    const docs = await loadTaskData(task, t.dataFile, roots, `${field}.data_file`);
    if (t.numFewshot > 0) {
      if (t.numFewshot >= docs.length) {
        throw invalidArgument(`${field}.num_fewshot`,
          `${t.numFewshot} examples asked; the data has ${docs.length} items, ` +
          `so at most ${docs.length - 1}`);
      }
      try {
        task.example(docs[0]);
      } catch (err) {
        throw invalidArgument(`${field}.num_fewshot`, (err as Error).message);
      }
    }
    const items = t.limit ? docs.slice(0, t.limit) : docs;
    plans.push({ index, field, spec: t, task, docs, items,
      sampling: taskSampling(task, t.sampling, spec.seed) });
  }

  let detailsFile: string | undefined;
  if (spec.detailsFile) {
    detailsFile = await roots.resolveOutput(spec.detailsFile, 'spec.details_file');
    if ((await kind(detailsFile)) === 'dir') {
      throw invalidArgument('spec.details_file', `"${spec.detailsFile}" is a folder; name a file`);
    }
  }

  return {
    modelDir,
    tasks: plans,
    detailsFile,
    batchSize: spec.batchSize || settings.batchSize,
    bootstrap: {
      samples: spec.bootstrapSamples || DEFAULT_BOOTSTRAP_SAMPLES,
      seed: seedNumber(spec.seed),
    },
  };
}
