// Trainer checkpoints: the weights as a Hugging Face folder, the AdamW moments as a
// safetensors file, and the step count and configs as JSON, so a killed job resumes
// bit-exactly. The caller's own state (a data position) rides along in `extra`. A step draws
// no random numbers (there is no dropout), so there is no generator state to save.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError, toEngineError } from './errors.js';
import { Model, type ModelOptions } from './model.js';
import {
  readSafetensorsHeader,
  readTensor,
  writeSafetensors,
  type TensorToWrite,
} from './safetensors.js';
import { Trainer, type TrainerConfig } from './trainer.js';

const format = 'delta-engine-trainer/1';

/** What a checkpoint restores. */
export interface ResumedTraining {
  model: Model;
  trainer: Trainer;
  extra: unknown;
}

/**
 * Saves the trainer's full state into dir (replaced whole: written beside it, then renamed),
 * with `extra` stored verbatim for the caller.
 */
export async function saveTrainerCheckpoint(
  trainer: Trainer,
  dir: string,
  extra: unknown = null,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await trainer.model.save(path.join(tmp, 'model'));
    const moments: TensorToWrite[] = [];
    for (const p of trainer.model.parameters()) {
      for (const kind of ['exp_avg', 'exp_avg_sq'] as const) {
        const data = new Float32Array(p.size);
        trainer.handle.readState(kind, p.name, data);
        moments.push({ name: `${kind}.${p.name}`, shape: p.shape, data });
      }
    }
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
    const state = { format, step: trainer.stepsDone, config: trainer.config, extra };
    await writeFile(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    throw toEngineError(err, `saving the trainer checkpoint ${dir}`);
  }
}

/** Loads a checkpoint written by saveTrainerCheckpoint and rebuilds model and trainer. */
export async function loadTrainerCheckpoint(
  dir: string,
  options: ModelOptions = {},
): Promise<ResumedTraining> {
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!existsSync(stateFile)) {
    throw new EngineError(
      'INVALID_STATE',
      `${dir} is not a trainer checkpoint (no trainer_state.json)`,
    );
  }
  let state: { format?: string; step?: number; config?: TrainerConfig; extra?: unknown };
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as typeof state;
  } catch (err) {
    throw toEngineError(err, `reading ${stateFile}`);
  }
  if (state.format !== format || typeof state.step !== 'number' || !state.config) {
    throw new EngineError('INVALID_STATE', `${stateFile}: unknown format ${String(state.format)}`);
  }

  const model = await Model.load(path.join(dir, 'model'), options);
  const trainer = new Trainer(model, state.config);
  const moments = await readSafetensorsHeader(path.join(dir, 'optimizer.safetensors'));
  for (const p of model.parameters()) {
    for (const kind of ['exp_avg', 'exp_avg_sq'] as const) {
      trainer.handle.writeState(kind, p.name, await readTensor(moments, `${kind}.${p.name}`));
    }
  }
  trainer.handle.setStepsDone(state.step);
  return { model, trainer, extra: state.extra ?? null };
}
