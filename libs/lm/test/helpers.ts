// Builds model folders for tests: a tiny random checkpoint from fixtures/tiny-models.json,
// exported to ONNX, with the fixture tokenizer and a Llama-3-style chat template beside it.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import {
  exportOnnx,
  writeRandomCheckpoint,
  type GenerateOptions,
  type GenerationRequest,
  type GenerationResult,
  type LanguageModel,
} from '../src/index.js';

export const FIXTURES = resolve(import.meta.dirname, 'fixtures');
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const SHARED_DATA = resolve(REPO_ROOT, '../shared/data');
export const SHARED_MODELS = resolve(REPO_ROOT, '../shared/models');

export interface TinyModelEntry {
  seed: number;
  config: Record<string, unknown>;
}

export interface TinyModels {
  inputs: number[][];
  greedyNewTokens: number;
  models: Record<string, TinyModelEntry>;
}

export const TINY: TinyModels = JSON.parse(
  readFileSync(join(FIXTURES, 'tiny-models.json'), 'utf8'),
);

/** A chat template in Llama 3's shape, written for these tests. */
export const LLAMA3_STYLE_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the system temp dir, removed after the test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `delta-lm-${prefix}-`));
  created.push(dir);
  return dir;
}

export interface FolderOptions {
  tokenizer?: boolean;
  tokenizerConfig?: Record<string, unknown>;
  generationConfig?: Record<string, unknown> | null;
  configOverrides?: Record<string, unknown>;
}

/** Writes and exports the tiny model `name`; returns its folder. */
export function tinyModelFolder(name: string, options: FolderOptions = {}): string {
  const entry = TINY.models[name];
  if (!entry) throw new Error(`no tiny model ${name}`);
  const dir = tempDir(name);
  writeRandomCheckpoint(dir, { ...entry.config, ...options.configOverrides }, entry.seed);
  if (options.tokenizer !== false) {
    copyFileSync(join(FIXTURES, 'tokenizer', 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const tokConfig = options.tokenizerConfig ?? {
      bos_token: '<|begin_of_text|>',
      eos_token: {
        content: '<|end_of_text|>',
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      pad_token: '<|pad|>',
      chat_template: LLAMA3_STYLE_TEMPLATE,
    };
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokConfig));
  }
  if (options.generationConfig !== null) {
    const gen = options.generationConfig ?? { eos_token_id: [1, 4], pad_token_id: 7 };
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(gen));
  }
  exportOnnx(dir);
  return dir;
}

/** Decodes a golden's base64 float32 logits. */
export function goldenLogits(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

export interface Golden {
  weightsSha256: string;
  invFreq: number[];
  logits: string[];
  greedy: number[][];
  greedyMinTop2Gap: number;
}

export function golden(name: string): Golden {
  return JSON.parse(readFileSync(join(FIXTURES, 'golden', `${name}.json`), 'utf8')) as Golden;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The first sample of a single request's generation. */
export async function one(
  lm: LanguageModel,
  request: GenerationRequest,
  options?: GenerateOptions,
): Promise<GenerationResult> {
  return (await lm.generate([request], options))[0]![0]!;
}
