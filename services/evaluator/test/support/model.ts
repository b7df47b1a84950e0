// Builds what the evaluator tests serve: a tiny Llama with random weights exported to ONNX, with
// the 512-token byte-level BPE tokenizer of libs/lm's fixtures and, unless asked otherwise, a
// chat template in Llama 3's shape. Folders live under the system temp dir and are removed
// after the test file.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportOnnx, writeRandomCheckpoint } from '@delta/lm';
import { afterAll } from 'vitest';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The shared data sets beside the repository. */
export const SHARED_DATA = path.resolve(REPO_ROOT, '../shared/data');
/** This project's test fixtures. */
export const FIXTURES = path.resolve(REPO_ROOT, 'services/evaluator/test/fixtures');

const TOKENIZER = path.resolve(REPO_ROOT, 'libs/lm/test/fixtures/tokenizer/tokenizer.json');

/** A chat template in Llama 3's shape, written for these tests. */
export const CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

/** Two layers, width 64, a context of 1024 tokens (GSM8K prompts take up to ~300 here). */
const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 512,
  hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, max_position_embeddings: 1024, rms_norm_eps: 1e-5, rope_theta: 10000,
  tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 1,
};

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the system temp dir, removed after the test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `delta-evaluator-${prefix}-`));
  created.push(dir);
  return dir;
}

export interface TinyModelOptions {
  /** Write a chat template (default true); without one prompts use the plain template. */
  chatTemplate?: boolean;
  /** Export to ONNX (default true). */
  onnx?: boolean;
  seed?: number;
}

/** Writes a tiny model folder at `dir` (created if needed) and returns `dir`. */
export function writeTinyModel(dir: string, options: TinyModelOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  writeRandomCheckpoint(dir, CONFIG, options.seed ?? 21);
  copyFileSync(TOKENIZER, path.join(dir, 'tokenizer.json'));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    bos_token: '<|begin_of_text|>',
    eos_token: '<|end_of_text|>',
    pad_token: '<|pad|>',
    ...(options.chatTemplate === false ? {} : { chat_template: CHAT_TEMPLATE }),
  }));
  writeFileSync(path.join(dir, 'generation_config.json'),
    JSON.stringify({ eos_token_id: [1, 4], pad_token_id: 7 }));
  if (options.onnx !== false) exportOnnx(dir);
  return dir;
}
