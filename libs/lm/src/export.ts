// Exports a Hugging Face Llama-family checkpoint (config.json + safetensors, as the engine
// writes it) to onnx/model.onnx in the decoder-with-past layout the generator serves. Weights
// are held in memory as float32 while the graph is written, so the export needs about twice the
// float32 model size in RAM; fp16/int8 exports are not produced.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDecoderConfig, type DecoderConfig } from './config.js';
import { LmError } from './errors.js';
import { buildDecoderGraph } from './onnx/decoder-graph.js';
import { encodeModel } from './onnx/proto.js';
import { SafetensorsCheckpoint } from './safetensors.js';

/** Options of `exportOnnx`. */
export interface ExportOptions {
  /**
   * Folder that receives onnx/model.onnx (and copies of the model's JSON files); default: the
   * checkpoint folder.
   */
  outDir?: string;
  /** Weight bytes above which weights go to onnx/model.onnx_data (protobuf caps files at 2 GiB). */
  externalDataThreshold?: number;
}

/** What was written, for logs and tests. */
export interface ExportResult {
  modelPath: string;
  externalDataPath: string | null;
  config: DecoderConfig;
  nodeCount: number;
  parameterCount: number;
}

/** Files a served model folder needs besides the ONNX graph; copied when exporting elsewhere. */
const SIDE_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
];

const DEFAULT_EXTERNAL_THRESHOLD = 1024 ** 3;

/** Reads and validates config.json of a model folder. */
export function readDecoderConfig(dir: string): DecoderConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new LmError('MODEL_FILE_MISSING', `config.json not found in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new LmError('MODEL_FILE_INVALID', `${file} is not valid JSON`, { cause });
  }
  return parseDecoderConfig(raw, file);
}

/**
 * Writes the ONNX decoder of the checkpoint in `checkpointDir`. The graph's logits match
 * transformers' forward pass to float32 rounding (the parity tests hold 1e-4 absolute).
 */
export function exportOnnx(checkpointDir: string, options: ExportOptions = {}): ExportResult {
  const config = readDecoderConfig(checkpointDir);
  const checkpoint = SafetensorsCheckpoint.open(checkpointDir);
  const spec = buildDecoderGraph(config, checkpoint);

  const outDir = resolve(options.outDir ?? checkpointDir);
  const onnxDir = join(outDir, 'onnx');
  mkdirSync(onnxDir, { recursive: true });
  if (outDir !== resolve(checkpointDir)) {
    for (const f of SIDE_FILES) {
      if (existsSync(join(checkpointDir, f))) copyFileSync(join(checkpointDir, f), join(outDir, f));
    }
  }

  let parameterCount = 0;
  let totalBytes = 0;
  for (const t of spec.initializers) {
    if (t.name.startsWith('model.') || t.name.startsWith('lm_head')) {
      parameterCount += t.dims.reduce((a, b) => a * b, 1);
    }
    totalBytes += t.raw?.length ?? 0;
  }

  // Large models: every initializer over 1 KiB moves to the external data file, 64-byte aligned.
  let externalDataPath: string | null = null;
  const threshold = options.externalDataThreshold ?? DEFAULT_EXTERNAL_THRESHOLD;
  if (totalBytes > threshold) {
    externalDataPath = join(onnxDir, 'model.onnx_data');
    const fd = openSync(externalDataPath, 'w');
    try {
      let offset = 0;
      for (const t of spec.initializers) {
        if (!t.raw || t.raw.length <= 1024) continue;
        const pad = (64 - (offset % 64)) % 64;
        if (pad) writeSync(fd, new Uint8Array(pad));
        offset += pad;
        writeSync(fd, t.raw);
        t.external = { location: 'model.onnx_data', offset, length: t.raw.length };
        offset += t.raw.length;
        delete t.raw;
      }
    } finally {
      closeSync(fd);
    }
  }

  const modelPath = join(onnxDir, 'model.onnx');
  writeFileSync(modelPath, Buffer.concat(encodeModel(spec)));
  return { modelPath, externalDataPath, config, nodeCount: spec.nodes.length, parameterCount };
}
