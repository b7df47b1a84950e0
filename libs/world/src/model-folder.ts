// Writes a trained rung as a Hugging Face model folder the services can serve: config.json and
// model.safetensors from the engine, the world's tokenizer files, generation_config.json with
// the end token, and onnx/model.onnx from @delta/lm's exporter. It trains nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Model } from '@delta/engine';
import { exportOnnx } from '@delta/lm';
import { WorldError } from './errors.js';
import { BOS_ID, EOS_ID, PAD_ID, tokenizerConfig, tokenizerJson } from './tokenizer.js';

/** The tokenizer and generation files every model folder of the world holds. */
export function writeTokenizerFiles(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const json = (name: string, value: unknown) =>
    writeFileSync(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('tokenizer.json', tokenizerJson());
  json('tokenizer_config.json', tokenizerConfig());
  json('special_tokens_map.json', { bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>' });
  json('generation_config.json', {
    bos_token_id: BOS_ID, eos_token_id: EOS_ID, pad_token_id: PAD_ID, max_new_tokens: 160,
  });
}

/** Saves `model` into `dir` (replacing its files) and exports it to ONNX. */
export async function writeModelFolder(model: Model, dir: string): Promise<void> {
  try {
    await model.save(dir);
    writeTokenizerFiles(dir);
    exportOnnx(dir);
  } catch (err) {
    throw new WorldError('EXPORT', `writing the model folder ${dir} failed: ` +
      `${(err as Error).message}`, { cause: err });
  }
}
