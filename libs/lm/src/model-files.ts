// Reads the JSON files of a Hugging Face model folder that decoding needs: config.json,
// generation_config.json, tokenizer.json, tokenizer_config.json (or chat_template.jinja) and
// special_tokens_map.json, and derives the stop set. It does not open the ONNX graph.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmError } from './errors.js';
import { TextTokenizer, tokenContent } from './tokenizer.js';

/** The generation defaults a model ships with. */
export interface GenerationDefaults {
  /** generation_config.json max_new_tokens, if the file names one. */
  maxNewTokens: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  bosTokenId: number | null;
}

/** What decoding needs to know about a model folder. */
export interface ModelFiles {
  dir: string;
  /** config.json as parsed. */
  config: Record<string, unknown>;
  modelType: string;
  /** Longest sequence (prompt + response) the model was built for. */
  maxContext: number;
  generation: GenerationDefaults;
  /** Null when the folder has no tokenizer.json: only token-id prompts can then be served. */
  tokenizer: TextTokenizer | null;
  /**
   * Every end token any of the files names: generation_config.json and config.json
   * eos_token_id (an int or a list), tokenizer_config.json and special_tokens_map.json
   * eos_token (a string or an AddedToken object).
   */
  stopTokenIds: ReadonlySet<number>;
}

function readJson(file: string, required: true): Record<string, unknown>;
function readJson(file: string, required: false): Record<string, unknown> | null;
function readJson(file: string, required: boolean): Record<string, unknown> | null {
  if (!existsSync(file)) {
    if (required) throw new LmError('MODEL_FILE_MISSING', `${file} not found`);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new LmError('MODEL_FILE_INVALID', `${file} is not valid JSON`, { cause });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new LmError('MODEL_FILE_INVALID', `${file} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function tokenIds(value: unknown, field: string): number[] {
  if (value == null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const v of list) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new LmError('MODEL_FILE_INVALID', `${field} must be a token id or a list of them`);
    }
  }
  return list as number[];
}

/** Loads a model folder's JSON files; fails with the file and field at fault. */
export function loadModelFiles(dir: string): ModelFiles {
  if (!existsSync(dir)) throw new LmError('MODEL_FILE_MISSING', `model folder ${dir} not found`);
  const configPath = join(dir, 'config.json');
  const config = readJson(configPath, true);
  const modelType = typeof config['model_type'] === 'string' ? config['model_type'] : 'unknown';
  const maxContext =
    config['max_position_embeddings'] ?? config['n_positions'] ?? config['max_sequence_length'];
  if (typeof maxContext !== 'number' || !Number.isInteger(maxContext) || maxContext <= 0) {
    throw new LmError(
      'MODEL_FILE_INVALID',
      `${configPath}: max_position_embeddings must be a positive integer`,
    );
  }

  const genPath = join(dir, 'generation_config.json');
  const gen = readJson(genPath, false) ?? {};
  const maxNew = gen['max_new_tokens'];
  const generation: GenerationDefaults = {
    maxNewTokens: typeof maxNew === 'number' && maxNew > 0 ? maxNew : null,
    eosTokenIds: tokenIds(gen['eos_token_id'], `${genPath}: eos_token_id`),
    padTokenId: tokenIds(gen['pad_token_id'] ?? config['pad_token_id'], 'pad_token_id')[0] ?? null,
    bosTokenId: tokenIds(gen['bos_token_id'] ?? config['bos_token_id'], 'bos_token_id')[0] ?? null,
  };

  const tokJsonPath = join(dir, 'tokenizer.json');
  const tokConfigPath = join(dir, 'tokenizer_config.json');
  const tokConfig = readJson(tokConfigPath, false) ?? {};
  const specialMap = readJson(join(dir, 'special_tokens_map.json'), false) ?? {};
  const templatePath = join(dir, 'chat_template.jinja');
  const templateFile = existsSync(templatePath) ? readFileSync(templatePath, 'utf8') : null;
  let tokenizer: TextTokenizer | null = null;
  if (existsSync(tokJsonPath)) {
    tokenizer = TextTokenizer.fromJson(
      readJson(tokJsonPath, true),
      tokConfig,
      templateFile,
      tokConfigPath,
    );
  }

  const stop = new Set<number>([
    ...generation.eosTokenIds,
    ...tokenIds(config['eos_token_id'], `${configPath}: eos_token_id`),
  ]);
  for (const [file, value] of [
    [tokConfigPath, tokConfig['eos_token']],
    ['special_tokens_map.json', specialMap['eos_token']],
  ] as const) {
    const content = tokenContent(value);
    if (content === null) continue;
    const id = tokenizer?.tokenId(content);
    if (id === undefined) {
      if (tokenizer) {
        throw new LmError(
          'MODEL_FILE_INVALID',
          `${file}: eos_token ${JSON.stringify(content)} is not in tokenizer.json`,
        );
      }
      continue;
    }
    stop.add(id);
  }

  return { dir, config, modelType, maxContext, generation, tokenizer, stopTokenIds: stop };
}
