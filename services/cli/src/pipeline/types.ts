// The checked form of a pipeline file: plain data (it is saved in the run's state.json), paths
// made absolute, every name cross-checked. Building the services' specs from it is specs.ts's.
import type { JsonValue } from '@bufbuild/protobuf';

/** A model folder or prompt file: a path, or a name the world builds (`world:<name>`). */
export type Ref =
  | { path: string; where: string }
  | { world: string; where: string };

/** Why an experiment is in the run; decides its row label and the verdicts the report states. */
export type ExperimentRole = 'dpo' | 'sft' | 'reversed' | 'no_delta' | 'format' | 'other';

/** Every role, in the order the delta table lists them. */
export const ROLES: readonly ExperimentRole[] =
  ['sft', 'dpo', 'reversed', 'no_delta', 'format', 'other'];

/** One generation job: a model answering a prompt set; `name` is what its responses carry. */
export interface GenerateEntry {
  name: string;
  /** "student" or a teacher's name. */
  model: string;
  /** A prompt set's name. */
  prompts: string;
  /** SamplingParams fields by proto name, defaults merged in. */
  sampling: Record<string, JsonValue>;
  batchSize: number;
  rawPrompts: boolean;
  limit: number;
}

/** One pairing job over generation entries' responses. */
export interface PairingEntry {
  name: string;
  policy: 'ladder' | 'score';
  /** Ladder: the chosen and rejected generation names. */
  chosen?: string;
  rejected?: string;
  /** Score: the generation names joined, and how they are scored. */
  models: string[];
  scorer?: string;
  minMargin: number;
  keepIdentical: boolean;
  keepTruncated: boolean;
}

/** One training run of the student. */
export interface ExperimentEntry {
  name: string;
  label: string;
  role: ExperimentRole;
  /** The pairing whose pairs it trains on. */
  pairs: string;
  preset: string;
  /** TrainingConfig fields by proto name: the pipeline's `train.config` with this one's on top. */
  config: Record<string, JsonValue>;
  reverse: boolean;
}

/** One evaluation task and the models that run it. */
export interface TaskEntry {
  name: string;
  /** The data file (a path or a world name); absent for a task's built-in items. */
  data?: Ref;
  limit: number;
  numFewshot: number;
  sampling: Record<string, JsonValue>;
  /** Names of evaluated models (student, teachers, experiments). */
  models: string[];
}

/** A checked pipeline. */
export interface Pipeline {
  /** Absolute path of the file it was read from. */
  file: string;
  name: string;
  /** A world to build first: the module that builds it, its seed and cache folder. */
  world?: { module: string; seed: number; cache: string };
  student: Ref;
  teachers: Record<string, Ref>;
  prompts: Record<string, Ref>;
  generate: GenerateEntry[];
  pairs: PairingEntry[];
  train: { preset: string; device: 'cpu' | 'cuda' };
  experiments: ExperimentEntry[];
  evaluate: {
    tasks: TaskEntry[];
    /** Every evaluated model, student first, then experiments, then teachers. */
    models: string[];
    batchSize: number;
    bootstrapSamples: number;
    seed: number;
  };
  report: { format?: { task: string; metric: string; experiments: string[] } };
  topics: { responses: string; pairs: string };
}
