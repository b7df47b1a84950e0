// Hugging Face checkpoint folders: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Opening checks the files; writing produces the same layout.
// Tokenizer and generation files are the caller's to copy.
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseHfConfig, type ModelConfig } from './config.js';
import { EngineError, toEngineError } from './errors.js';
import {
  readSafetensorsHeader,
  writeSafetensors,
  type SafetensorsFile,
  type SaveDtype,
  type TensorToWrite,
} from './safetensors.js';

/** An opened checkpoint folder: parsed config, the raw config.json and where each tensor is. */
export interface HfCheckpoint {
  dir: string;
  config: ModelConfig;
  rawConfig: Record<string, unknown>;
  tensorFile: Map<string, SafetensorsFile>;
}

async function readJson(file: string, what: string): Promise<unknown> {
  if (!existsSync(file)) throw new EngineError('INVALID_MODEL', `${what} not found: ${file}`);
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw toEngineError(err, `reading ${file}`);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new EngineError('INVALID_MODEL', `${file} is not valid JSON`, { cause: err });
  }
}

/** Opens a checkpoint folder and indexes its tensors; reads no weights yet. */
export async function openHfCheckpoint(dir: string): Promise<HfCheckpoint> {
  const configFile = path.join(dir, 'config.json');
  const rawConfig = (await readJson(configFile, 'config.json')) as Record<string, unknown>;
  const config = parseHfConfig(rawConfig, configFile);

  const tensorFile = new Map<string, SafetensorsFile>();
  const single = path.join(dir, 'model.safetensors');
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) {
    const f = await readSafetensorsHeader(single);
    for (const name of f.tensors.keys()) tensorFile.set(name, f);
  } else if (existsSync(indexFile)) {
    const index = (await readJson(indexFile, 'index')) as { weight_map?: Record<string, string> };
    if (typeof index.weight_map !== 'object' || index.weight_map === null) {
      throw new EngineError('INVALID_MODEL', `${indexFile}: field "weight_map" is missing`);
    }
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(index.weight_map)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
        throw new EngineError(
          'INVALID_MODEL',
          `${indexFile}: weight_map["${name}"] is not a file name`,
        );
      }
      let f = shards.get(shard);
      if (!f) {
        f = await readSafetensorsHeader(path.join(dir, shard));
        shards.set(shard, f);
      }
      if (!f.tensors.has(name)) {
        throw new EngineError('INVALID_MODEL', `${indexFile}: "${name}" is not in ${shard}`);
      }
      tensorFile.set(name, f);
    }
  } else {
    throw new EngineError(
      'INVALID_MODEL',
      `no weights in ${dir}: expected model.safetensors or model.safetensors.index.json`,
    );
  }
  return { dir, config, rawConfig, tensorFile };
}

/** Options for writing a checkpoint folder. */
export interface HfSaveOptions {
  /** float32 (default) reloads bit-exactly; bfloat16 rounds every weight. */
  dtype?: SaveDtype;
  /** Split into shards of at most this many bytes (with an index file); default: one file. */
  maxShardBytes?: number;
}

/** Writes config.json and the tensors (in order) as one safetensors file or shards. */
export async function writeHfCheckpoint(
  dir: string,
  rawConfig: Record<string, unknown>,
  tensors: TensorToWrite[],
  options: HfSaveOptions = {},
): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  const width = dtype === 'float32' ? 4 : 2;
  try {
    await mkdir(dir, { recursive: true });
    for (const stale of ['model.safetensors', 'model.safetensors.index.json']) {
      await rm(path.join(dir, stale), { force: true });
    }
    // transformers 5 names the storage type "dtype", earlier versions "torch_dtype".
    const dtypeKey = 'dtype' in rawConfig ? 'dtype' : 'torch_dtype';
    const config = { ...rawConfig, [dtypeKey]: dtype };
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');

    const limit = options.maxShardBytes ?? Infinity;
    const shards: TensorToWrite[][] = [[]];
    let bytes = 0;
    for (const t of tensors) {
      const b = t.data.length * width;
      if (bytes > 0 && bytes + b > limit) {
        shards.push([]);
        bytes = 0;
      }
      shards[shards.length - 1]!.push(t);
      bytes += b;
    }
    if (shards.length === 1) {
      await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, dtype);
      return;
    }
    const pad = (i: number) => String(i).padStart(5, '0');
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < shards.length; i++) {
      const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
      await writeSafetensors(path.join(dir, file), shards[i]!, dtype);
      for (const t of shards[i]!) weightMap[t.name] = file;
    }
    const total = tensors.reduce((a, t) => a + t.data.length * width, 0);
    const index = { metadata: { total_size: total }, weight_map: weightMap };
    const indexJson = JSON.stringify(index, null, 2) + '\n';
    await writeFile(path.join(dir, 'model.safetensors.index.json'), indexJson);
  } catch (err) {
    throw toEngineError(err, `saving a checkpoint to ${dir}`);
  }
}
