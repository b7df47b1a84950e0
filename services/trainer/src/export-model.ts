// Writes the tuned model where the generator and evaluator can serve it: a Hugging Face folder
// (config.json, model.safetensors in float32, the student's tokenizer and generation files)
// plus onnx/model.onnx from @delta/lm's exporter. The folder appears whole or not at all.
// The ONNX export runs synchronously and holds the weights twice in memory while it writes.
import { copyFile, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Model } from '@delta/engine';
import { exportOnnx } from '@delta/lm';

/** Files of the student folder the tuned model needs besides its weights. */
const SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'chat_template.jinja',
  'tokenizer.model',
];

/** Where the model went. */
export interface ExportedModel {
  modelDir: string;
  /** onnx/model.onnx inside modelDir, or undefined when the export was skipped. */
  onnxPath?: string;
}

/** Saves `model` with the student's tokenizer files into `modelDir`, replacing it. */
export async function exportModel(
  model: Model,
  studentDir: string,
  modelDir: string,
  options: { onnx: boolean },
): Promise<ExportedModel> {
  const tmp = `${modelDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await model.save(tmp);
  for (const name of SIDE_FILES) {
    const from = path.join(studentDir, name);
    if (existsSync(from)) await copyFile(from, path.join(tmp, name));
  }
  if (options.onnx) exportOnnx(tmp);
  await rm(modelDir, { recursive: true, force: true });
  await rename(tmp, modelDir);
  return {
    modelDir,
    ...(options.onnx ? { onnxPath: path.join(modelDir, 'onnx', 'model.onnx') } : {}),
  };
}
