// Reads and checks a pipeline file: every field's type and range, every name it refers to, the
// files it names, and the experiments' roles against their settings. Each problem is reported
// with the file, line and field ("examples/demo.yaml:12: train.preset: unknown preset ...").
// It contacts no service: a task only a remote evaluator knows is refused here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '@bufbuild/protobuf';
import { SamplingParamsSchema, TrainingConfigSchema } from '@delta/contracts';

import { RunError } from '../errors.js';
import { DEFAULT_PRESET, TRAINER_LOSSES, TRAINER_PRESETS } from './known.js';
import { checkMessage, isRecord } from './proto-fields.js';
import {
  ROLES, type ExperimentEntry, type ExperimentRole, type GenerateEntry, type PairingEntry,
  type Pipeline, type Ref, type TaskEntry,
} from './types.js';
import { Problems, YamlSource, type PathPart } from './yaml-source.js';

/** What the check needs to know about evaluation tasks (from @delta/evals by default). */
export interface TaskCatalog {
  names(): string[];
  /** Whether the task ships its own items, so it needs no data file. */
  hasBuiltin(name: string): boolean;
}

/** Settings of the check. */
export interface ParseOptions {
  /** Folder that shown file names are relative to; default process.cwd(). */
  cwd?: string;
  tasks: TaskCatalog;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/u;
const TOPIC = /^[A-Za-z0-9._-]{1,200}$/u;
const TOP_LEVEL = ['name', 'world', 'student', 'teachers', 'prompts', 'generation', 'generate',
  'pairs', 'train', 'experiments', 'evaluate', 'report', 'topics'];
const DEFAULT_LABELS: Record<ExperimentRole, string> = {
  dpo: 'DPO on the weak pairs',
  sft: 'SFT on the chosen responses',
  reversed: 'DPO on reversed pairs (control)',
  no_delta: 'DPO without a delta: one model on both sides (control)',
  format: 'DPO on the format pairs',
  other: '',
};

/** Reads `file` and checks it; throws one RunError (PIPELINE) listing every problem. */
export function readPipeline(file: string, options: ParseOptions): Pipeline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RunError('PIPELINE', `cannot read the pipeline file ${file}: ` +
      `${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parsePipeline(file, text, options);
}

/** Checks the text of a pipeline file; relative paths in it are taken from the file's folder. */
export function parsePipeline(file: string, text: string, options: ParseOptions): Pipeline {
  const absolute = path.resolve(file);
  const cwd = options.cwd ?? process.cwd();
  const shown = absolute.startsWith(cwd + path.sep) ? path.relative(cwd, absolute) : absolute;
  const source = YamlSource.parse(shown, text);
  return new Checker(source, path.dirname(absolute), absolute, options.tasks).pipeline();
}

class Checker {
  private readonly problems: Problems;
  private readonly root: Record<string, unknown>;
  /** The student and the teachers: the models a generation may name. */
  private models: string[] = [];

  constructor(
    private readonly source: YamlSource,
    private readonly baseDir: string,
    private readonly file: string,
    private readonly tasks: TaskCatalog,
  ) {
    this.problems = new Problems(source);
    this.root = isRecord(source.value) ? source.value : {};
    if (!isRecord(source.value)) this.problems.add([], 'the file must be a YAML map of sections');
  }

  pipeline(): Pipeline {
    this.keys([], this.root, TOP_LEVEL);
    const name = this.name(['name'], this.root.name);
    const world = this.world();
    const student = this.ref(['student'], this.root.student, 'model', Boolean(world));
    const teachers = this.refMap(['teachers'], 'model', Boolean(world));
    if ('student' in teachers) this.problems.add(['teachers', 'student'], 'the name "student" is ' +
      'the student\'s; give this teacher another name', { key: true });
    this.models = ['student', ...Object.keys(teachers)];
    const prompts = this.refMap(['prompts'], 'prompts', Boolean(world));
    const generate = this.generate(Object.keys(prompts));
    const pairs = this.pairings(generate);
    const train = this.train();
    const experiments = this.experiments(pairs, generate, train.preset, train.config);
    const evaluate = this.evaluate(Object.keys(teachers), experiments, Boolean(world));
    const report = this.report(evaluate.tasks, experiments);
    const topics = this.topics(pairs);
    this.problems.throwIfAny();
    return {
      file: this.file, name, ...(world ? { world } : {}), student: student!, teachers, prompts,
      generate, pairs, train: { preset: train.preset, device: train.device }, experiments,
      evaluate, report, topics,
    };
  }

  // ---- small readers: each records a problem and returns a fallback, so checking goes on.

  private keys(at: PathPart[], value: unknown, known: readonly string[]): void {
    if (!isRecord(value)) return;
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        this.problems.add([...at, key], `unknown field (known: ${known.join(', ')})`, { key: true });
      }
    }
  }

  private map(at: PathPart[], value: unknown, required: boolean): Record<string, unknown> {
    if (value === undefined || value === null) {
      if (required) this.problems.add(at, 'required');
      return {};
    }
    if (!isRecord(value)) {
      this.problems.add(at, 'must be a map');
      return {};
    }
    return value;
  }

  private name(at: PathPart[], value: unknown): string {
    if (value === undefined || value === null || value === '') {
      this.problems.add(at, 'required');
      return '';
    }
    if (typeof value !== 'string' || !NAME.test(value)) {
      this.problems.add(at, `"${String(value)}" is not a name (letters, digits, ".", "_", "-"; ` +
        'at most 64, starting with a letter or digit)');
      return String(value);
    }
    return value;
  }

  private string(at: PathPart[], value: unknown, fallback: string): string {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || value === '') {
      this.problems.add(at, 'must be a non-empty string');
      return fallback;
    }
    return value;
  }

  private int(at: PathPart[], value: unknown, fallback: number, min = 0, max = 2 ** 31 - 1): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.problems.add(at, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  private number(at: PathPart[], value: unknown, fallback: number): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.problems.add(at, `must be a number, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  private bool(at: PathPart[], value: unknown, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.problems.add(at, `must be true or false, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  private oneOf<T extends string>(at: PathPart[], value: unknown, known: readonly T[],
    fallback: T, what: string): T {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' || !known.includes(value as T)) {
      this.problems.add(at, `unknown ${what} '${String(value)}' (known: ${known.join(', ')})`);
      return fallback;
    }
    return value as T;
  }

  private nameIn(at: PathPart[], value: unknown, known: readonly string[], what: string): string {
    if (value === undefined || value === null || value === '') {
      this.problems.add(at, 'required');
      return '';
    }
    if (typeof value !== 'string' || !known.includes(value)) {
      const list = known.length ? known.join(', ') : 'none';
      this.problems.add(at, `no ${what} named '${String(value)}' (known: ${list})`);
      return String(value);
    }
    return value;
  }

  private names(at: PathPart[], value: unknown, known: readonly string[], what: string):
    string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.problems.add(at, `must be a list of ${what} names`);
      return [];
    }
    return value.map((v, i) => this.nameIn([...at, i], v, known, what));
  }

  // ---- files and the world

  private world(): Pipeline['world'] {
    const raw = this.root.world;
    if (raw === undefined || raw === null) return undefined;
    const world = this.map(['world'], raw, true);
    this.keys(['world'], world, ['module', 'seed', 'cache']);
    const cache = this.string(['world', 'cache'], world.cache, 'cache/world');
    let module = this.string(['world', 'module'], world.module, '@delta/world');
    // A path is taken from the pipeline's folder; anything else is a package name.
    if (module.startsWith('.') || path.isAbsolute(module)) {
      module = path.resolve(this.baseDir, module);
      if (!existsSync(module)) this.problems.add(['world', 'module'], `${module} does not exist`);
    }
    return { module, seed: this.int(['world', 'seed'], world.seed, 0),
      cache: path.resolve(this.baseDir, cache) };
  }

  private ref(at: PathPart[], value: unknown, kind: 'model' | 'prompts', world: boolean):
    Ref | undefined {
    const where = this.source.where(at);
    if (value === undefined || value === null || value === '') {
      this.problems.add(at, 'required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.problems.add(at, `must be a path or world:<name>`);
      return undefined;
    }
    if (value.startsWith('world:')) {
      if (!world) this.problems.add(at, `"${value}" needs a world section that builds it`);
      return { world: value.slice('world:'.length), where };
    }
    const file = path.resolve(this.baseDir, value);
    if (!existsSync(file)) {
      this.problems.add(at, `${value} does not exist (looked for ${file})`);
    } else if (kind === 'model' && !statSync(file).isDirectory()) {
      this.problems.add(at, `${value} is not a model folder`);
    } else if (kind === 'prompts' && !statSync(file).isFile()) {
      this.problems.add(at, `${value} is not a prompt file`);
    }
    return { path: file, where };
  }

  private refMap(at: PathPart[], kind: 'model' | 'prompts', world: boolean): Record<string, Ref> {
    const raw = this.map(at, this.root[at[0] as string], true);
    const out: Record<string, Ref> = {};
    for (const [key, value] of Object.entries(raw)) {
      this.name([...at, key], key);
      const ref = this.ref([...at, key], value, kind, world);
      if (ref) out[key] = ref;
    }
    if (Object.keys(raw).length === 0 && isRecord(this.root[at[0] as string])) {
      this.problems.add(at, 'name at least one');
    }
    return out;
  }

  // ---- stages

  private generate(prompts: string[]): GenerateEntry[] {
    const defaults = this.map(['generation'], this.root.generation, false);
    this.keys(['generation'], defaults, ['sampling', 'batch_size', 'raw_prompts', 'limit']);
    const sampling = checkMessage(SamplingParamsSchema, defaults.sampling,
      ['generation', 'sampling'], this.problems) ?? {};
    const batchSize = this.int(['generation', 'batch_size'], defaults.batch_size, 0, 0, 1024);
    const raw = this.bool(['generation', 'raw_prompts'], defaults.raw_prompts, false);
    const limit = this.int(['generation', 'limit'], defaults.limit, 0);

    const models = this.models;
    return Object.entries(this.map(['generate'], this.root.generate, true)).map(([name, v]) => {
      const at = ['generate', name];
      this.name(at, name);
      const entry = this.map(at, v, true);
      this.keys(at, entry, ['model', 'prompts', 'sampling', 'batch_size', 'raw_prompts', 'limit']);
      const own = checkMessage(SamplingParamsSchema, entry.sampling, [...at, 'sampling'],
        this.problems) ?? {};
      return {
        name,
        model: this.nameIn([...at, 'model'], entry.model, models, 'model'),
        prompts: this.nameIn([...at, 'prompts'], entry.prompts, prompts, 'prompt set'),
        sampling: { ...sampling, ...own },
        batchSize: this.int([...at, 'batch_size'], entry.batch_size, batchSize, 0, 1024),
        rawPrompts: this.bool([...at, 'raw_prompts'], entry.raw_prompts, raw),
        limit: this.int([...at, 'limit'], entry.limit, limit),
      };
    });
  }

  private pairings(generate: GenerateEntry[]): PairingEntry[] {
    const known = generate.map((g) => g.name);
    return Object.entries(this.map(['pairs'], this.root.pairs, true)).map(([name, v]) => {
      const at = ['pairs', name];
      this.name(at, name);
      const entry = this.map(at, v, true);
      this.keys(at, entry, ['policy', 'chosen', 'rejected', 'models', 'scorer', 'min_margin',
        'keep_identical', 'keep_truncated']);
      const policy = this.oneOf([...at, 'policy'], entry.policy, ['ladder', 'score'] as const,
        'ladder', 'pairing policy');
      const common = {
        name, policy,
        minMargin: this.number([...at, 'min_margin'], entry.min_margin, 0),
        keepIdentical: this.bool([...at, 'keep_identical'], entry.keep_identical, false),
        keepTruncated: this.bool([...at, 'keep_truncated'], entry.keep_truncated, false),
      };
      if (policy === 'ladder') {
        const chosen = this.nameIn([...at, 'chosen'], entry.chosen, known, 'generation');
        const rejected = this.nameIn([...at, 'rejected'], entry.rejected, known, 'generation');
        if (chosen && chosen === rejected) {
          this.problems.add([...at, 'rejected'], 'must differ from chosen (a model\'s responses ' +
            'under one name would pair with themselves; generate them twice under two names)');
        }
        for (const extra of ['models', 'scorer'] as const) {
          if (entry[extra] !== undefined) this.problems.add([...at, extra],
            'belongs to policy: score', { key: true });
        }
        return { ...common, chosen, rejected, models: [chosen, rejected] };
      }
      const models = this.names([...at, 'models'], entry.models, known, 'generation') ?? [];
      if (models.length < 2) this.problems.add([...at, 'models'], 'name at least two generations');
      const scorer = this.string([...at, 'scorer'], entry.scorer, '');
      if (!scorer) this.problems.add([...at, 'scorer'], 'required for policy: score ' +
        '("record", or a verifier task such as gsm8k)');
      return { ...common, models, scorer };
    });
  }

  private train(): { preset: string; device: 'cpu' | 'cuda'; config: Record<string, JsonValue> } {
    const train = this.map(['train'], this.root.train, false);
    this.keys(['train'], train, ['preset', 'config', 'device']);
    return {
      preset: this.oneOf(['train', 'preset'], train.preset, TRAINER_PRESETS, DEFAULT_PRESET, 'preset'),
      device: this.oneOf(['train', 'device'], train.device, ['cpu', 'cuda'] as const, 'cpu', 'device'),
      config: this.trainingConfig(['train', 'config'], train.config),
    };
  }

  private trainingConfig(at: PathPart[], value: unknown): Record<string, JsonValue> {
    const config = checkMessage(TrainingConfigSchema, value, at, this.problems) ?? {};
    if (config.loss !== undefined) {
      this.oneOf([...at, 'loss'], config.loss, TRAINER_LOSSES, 'dpo_norm', 'loss');
    }
    return config;
  }

  private experiments(pairs: PairingEntry[], generate: GenerateEntry[], preset: string,
    config: Record<string, JsonValue>): ExperimentEntry[] {
    const raw = this.map(['experiments'], this.root.experiments, true);
    const roles = Object.values(raw).map((e) => (isRecord(e) ? e.role : undefined));
    return Object.entries(raw).map(([name, v]) => {
      const at = ['experiments', name];
      this.name(at, name);
      const entry = this.map(at, v, true);
      this.keys(at, entry, ['pairs', 'role', 'label', 'preset', 'config', 'reverse']);
      const role = this.oneOf([...at, 'role'], entry.role, ROLES, 'other', 'role');
      const pairing = this.nameIn([...at, 'pairs'], entry.pairs, pairs.map((p) => p.name), 'pairing');
      const merged = { ...config, ...this.trainingConfig([...at, 'config'], entry.config) };
      const experiment: ExperimentEntry = {
        name, role, pairs: pairing,
        label: this.string([...at, 'label'], entry.label, defaultLabel(role, name, roles)),
        preset: this.oneOf([...at, 'preset'], entry.preset, TRAINER_PRESETS, preset, 'preset'),
        config: merged,
        reverse: this.bool([...at, 'reverse'], entry.reverse, false),
      };
      this.checkRole(at, experiment, pairs.find((p) => p.name === pairing), generate);
      return experiment;
    });
  }

  /** A role is a claim about the experiment; its settings must make the claim true. */
  private checkRole(at: PathPart[], e: ExperimentEntry, pairing: PairingEntry | undefined,
    generate: GenerateEntry[]): void {
    const sft = e.config.loss === 'sft';
    if (e.role === 'sft' && !sft) {
      this.problems.add([...at, 'config', 'loss'], 'role sft trains on the chosen responses ' +
        'alone: set config.loss: sft');
    }
    if (['dpo', 'reversed', 'no_delta'].includes(e.role) && sft) {
      this.problems.add([...at, 'config', 'loss'], `role ${e.role} is a preference run; ` +
        'loss sft trains on the chosen side only');
    }
    if (e.role === 'reversed' && !e.reverse) {
      this.problems.add([...at, 'reverse'], 'role reversed needs reverse: true');
    }
    if (e.reverse && !['reversed', 'other'].includes(e.role)) {
      this.problems.add([...at, 'reverse'], `role ${e.role} trains on the pairs as they are; ` +
        'use role reversed for swapped pairs');
    }
    if (e.role === 'no_delta' && pairing?.policy === 'ladder') {
      const model = (name?: string) => generate.find((g) => g.name === name)?.model;
      const known = [model(pairing.chosen), model(pairing.rejected)]
        .every((m) => m !== undefined && this.models.includes(m));
      // An unknown model is reported where it is named; comparing it here would only repeat it.
      if (known && model(pairing.chosen) !== model(pairing.rejected)) {
        this.problems.add([...at, 'pairs'], `role no_delta needs both sides from one model; ` +
          `pairing '${pairing.name}' pairs ${model(pairing.chosen)} over ${model(pairing.rejected)}`);
      }
    }
  }

  private evaluate(teachers: string[], experiments: ExperimentEntry[], world: boolean):
    Pipeline['evaluate'] {
    const evaluate = this.map(['evaluate'], this.root.evaluate, true);
    this.keys(['evaluate'], evaluate, ['tasks', 'models', 'batch_size', 'bootstrap_samples', 'seed']);
    const byRole = [...experiments].sort((a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role));
    const all = ['student', ...byRole.map((e) => e.name), ...teachers];
    for (const clash of experiments.filter((e) => teachers.includes(e.name) || e.name === 'student')) {
      this.problems.add(['experiments', clash.name], 'a teacher or the student has this name; ' +
        'evaluated models need one name each', { key: true });
    }
    const chosen = this.names(['evaluate', 'models'], evaluate.models, all, 'model');
    const models = chosen ? all.filter((m) => chosen.includes(m)) : all;

    const rawTasks = evaluate.tasks;
    if (!Array.isArray(rawTasks) || rawTasks.length === 0) {
      this.problems.add(['evaluate', 'tasks'], 'name at least one task (a list of {name, data})');
    }
    const known = this.tasks.names();
    const tasks = (Array.isArray(rawTasks) ? rawTasks : []).map((v, i): TaskEntry => {
      const at = ['evaluate', 'tasks', i];
      const entry = this.map(at, v, true);
      this.keys(at, entry, ['name', 'data', 'limit', 'num_fewshot', 'sampling', 'models']);
      const name = this.string([...at, 'name'], entry.name, '');
      if (!name) this.problems.add([...at, 'name'], 'required');
      // A world registers its own tasks when it is built; they are checked then.
      else if (!known.includes(name) && !world) {
        this.problems.add([...at, 'name'], `unknown task '${name}' (known: ${known.join(', ')})`);
      }
      let data: Ref | undefined;
      if (entry.data !== undefined) {
        data = this.ref([...at, 'data'], entry.data, 'prompts', world);
      } else if (name && known.includes(name) && !this.tasks.hasBuiltin(name)) {
        this.problems.add([...at, 'data'], `required: task ${name} has no built-in items`);
      }
      const own = this.names([...at, 'models'], entry.models, models, 'evaluated model');
      return {
        name, ...(data ? { data } : {}),
        limit: this.int([...at, 'limit'], entry.limit, 0),
        numFewshot: this.int([...at, 'num_fewshot'], entry.num_fewshot, 0, 0, 32),
        sampling: checkMessage(SamplingParamsSchema, entry.sampling, [...at, 'sampling'],
          this.problems) ?? {},
        models: own ? models.filter((m) => own.includes(m)) : models,
      };
    });
    return {
      tasks, models,
      batchSize: this.int(['evaluate', 'batch_size'], evaluate.batch_size, 0, 0, 1024),
      bootstrapSamples: this.int(['evaluate', 'bootstrap_samples'], evaluate.bootstrap_samples,
        1000, 0, 100_000),
      seed: this.int(['evaluate', 'seed'], evaluate.seed, 0),
    };
  }

  private report(tasks: TaskEntry[], experiments: ExperimentEntry[]): Pipeline['report'] {
    const report = this.map(['report'], this.root.report, false);
    this.keys(['report'], report, ['format']);
    if (report.format === undefined || report.format === null) return {};
    const at = ['report', 'format'];
    const format = this.map(at, report.format, true);
    this.keys(at, format, ['task', 'metric', 'experiments']);
    const task = this.nameIn([...at, 'task'], format.task, tasks.map((t) => t.name), 'evaluation task');
    const metric = this.string([...at, 'metric'], format.metric, '');
    if (!metric) this.problems.add([...at, 'metric'], 'required: the metric that counts sections');
    const named = this.names([...at, 'experiments'], format.experiments,
      experiments.map((e) => e.name), 'experiment');
    const chosen = named ?? experiments.filter((e) => e.role === 'format').map((e) => e.name);
    if (chosen.length === 0) this.problems.add([...at, 'experiments'], 'name the experiments ' +
      'to compare (or give one experiment role: format)');
    return { format: { task, metric, experiments: chosen } };
  }

  private topics(pairs: PairingEntry[]): Pipeline['topics'] {
    const topics = this.map(['topics'], this.root.topics, false);
    this.keys(['topics'], topics, ['responses', 'pairs']);
    const topic = (key: string, fallback: string) => {
      const value = this.string(['topics', key], topics[key], fallback);
      if (!TOPIC.test(value)) this.problems.add(['topics', key], `"${value}" is not a topic name`);
      return value;
    };
    const out = {
      responses: topic('responses', 'delta.responses'), pairs: topic('pairs', 'delta.pairs'),
    };
    for (const p of pairs) {
      if (!TOPIC.test(`${out.pairs}.${p.name}`)) this.problems.add(['pairs', p.name],
        `"${out.pairs}.${p.name}" is not a topic name`, { key: true });
    }
    return out;
  }
}

function defaultLabel(role: ExperimentRole, name: string, roles: unknown[]): string {
  const base = DEFAULT_LABELS[role];
  if (!base) return name;
  return roles.filter((r) => r === role).length > 1 ? `${base} (${name})` : base;
}
