// Builds the services' job specs from a checked pipeline: one GenerationSpec per `generate`
// entry, one PairingSpec per pairing, one TrainingSpec per experiment, one EvaluationSpec per
// evaluated model. Paths are absolute and inside the run folder for outputs. Pure: no I/O.
import path from 'node:path';
import { create, fromJson } from '@bufbuild/protobuf';
import {
  Device, EvaluationSpecSchema, GenerationSpecSchema, LadderPolicySchema, PairingSpecSchema,
  SamplingParamsSchema, ScorePolicySchema,
  TaskSpecSchema, TrainingConfigSchema, TrainingSpecSchema,
  type EvaluationSpec, type GenerationSpec, type PairingSpec, type TrainingSpec,
} from '@delta/contracts';

import type { ResolvedPaths } from './world.js';
import type { ExperimentEntry, GenerateEntry, PairingEntry, Pipeline } from './types.js';

/** Where a run's outputs go inside its folder. */
export class RunLayout {
  constructor(readonly dir: string) {}

  /** The trainer's output folder of an experiment. */
  trainDir(experiment: string): string {
    return path.join(this.dir, 'train', experiment);
  }

  /** The tuned model the trainer writes for an experiment. */
  tunedModel(experiment: string): string {
    return path.join(this.trainDir(experiment), 'model');
  }

  /** The JSONL copy of a pairing's pairs. */
  pairsFile(pairing: string): string {
    return path.join(this.dir, 'pairs', `${pairing}.jsonl`);
  }

  /** One line per evaluated item of a model. */
  detailsFile(model: string): string {
    return path.join(this.dir, 'eval', `${model}.details.jsonl`);
  }

  get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }
}

/** The topic a pairing writes to and its experiments read from. */
export function pairsTopic(pipeline: Pipeline, pairing: string): string {
  return `${pipeline.topics.pairs}.${pairing}`;
}

/** A generation job: the entry's model answering its prompt set. */
export function generationSpec(pipeline: Pipeline, paths: ResolvedPaths,
  entry: GenerateEntry): GenerationSpec {
  return create(GenerationSpecSchema, {
    model: modelPath(entry.model, paths),
    modelName: entry.name,
    prompts: { source: { case: 'file', value: paths.prompts[entry.prompts]! }, limit: entry.limit },
    sampling: fromJson(SamplingParamsSchema, entry.sampling),
    batchSize: entry.batchSize,
    responsesTopic: pipeline.topics.responses,
    rawPrompts: entry.rawPrompts,
  });
}

/** A pairing job in batch mode: it stops at the end of the run's responses. */
export function pairingSpec(pipeline: Pipeline, entry: PairingEntry, layout: RunLayout): PairingSpec {
  const policy: PairingSpec['policy'] = entry.policy === 'ladder'
    ? { case: 'ladder', value: create(LadderPolicySchema, { order: [entry.chosen!, entry.rejected!],
      pairs: [{ chosen: entry.chosen!, rejected: entry.rejected! }] }) }
    : { case: 'score', value: create(ScorePolicySchema, { scorer: entry.scorer!,
      minMargin: entry.minMargin }) };
  return create(PairingSpecSchema, {
    models: entry.models,
    policy,
    responsesTopic: pipeline.topics.responses,
    pairsTopic: pairsTopic(pipeline, entry.name),
    exportFile: layout.pairsFile(entry.name),
    keepIdentical: entry.keepIdentical,
    keepTruncated: entry.keepTruncated,
    untilEnd: true,
  });
}

/** A training job of the student on one pairing's pairs. */
export function trainingSpec(pipeline: Pipeline, paths: ResolvedPaths, entry: ExperimentEntry,
  layout: RunLayout): TrainingSpec {
  return create(TrainingSpecSchema, {
    student: paths.student,
    pairs: { source: { case: 'topic', value: pairsTopic(pipeline, entry.pairs) } },
    preset: entry.preset,
    config: fromJson(TrainingConfigSchema, entry.config),
    device: pipeline.train.device === 'cuda' ? Device.CUDA : Device.CPU,
    outputDir: layout.trainDir(entry.name),
    reversePairs: entry.reverse,
  });
}

/** The folder an evaluated model is served from: given, or the tuned one of an experiment. */
export function evaluatedFolder(pipeline: Pipeline, paths: ResolvedPaths, layout: RunLayout,
  model: string): string {
  if (pipeline.experiments.some((e) => e.name === model)) return layout.tunedModel(model);
  return modelPath(model, paths);
}

/** An evaluation job: every task that names `model`. */
export function evaluationSpec(pipeline: Pipeline, paths: ResolvedPaths, layout: RunLayout,
  model: string, trainedFolder?: string): EvaluationSpec {
  const { evaluate } = pipeline;
  return create(EvaluationSpecSchema, {
    model: trainedFolder || evaluatedFolder(pipeline, paths, layout, model),
    modelName: model,
    tasks: evaluate.tasks.flatMap((t, i) => t.models.includes(model) ? [create(TaskSpecSchema, {
      name: t.name, dataFile: paths.taskData[i] ?? '', limit: t.limit, numFewshot: t.numFewshot,
      sampling: fromJson(SamplingParamsSchema, t.sampling),
    })] : []),
    batchSize: evaluate.batchSize,
    detailsFile: layout.detailsFile(model),
    bootstrapSamples: evaluate.bootstrapSamples,
    seed: BigInt(evaluate.seed),
  });
}

function modelPath(model: string, paths: ResolvedPaths): string {
  return model === 'student' ? paths.student : paths.teachers[model]!;
}
