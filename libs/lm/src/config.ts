// Reads a Llama-family config.json (Llama 2/3, Qwen2/2.5, Mistral) into one typed record, and
// computes the rotary frequencies it implies. It rejects what the export cannot build (another
// activation, dynamic RoPE scaling, Qwen2's per-layer sliding window) rather than guessing.
import { LmError } from './errors.js';

/** Architectures the ONNX export and the engine share. */
export type ModelType = 'llama' | 'qwen2' | 'mistral';

/** RoPE frequency scaling: none, linear, or Llama 3.1's piecewise rule. */
export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/** Everything the graph needs to know about a decoder, with HF's defaults filled in. */
export interface DecoderConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on the q, k and v projections (always on for Qwen2, `attention_bias` for Llama). */
  qkvBias: boolean;
  /** Bias on the output projection (Llama's `attention_bias` covers it too). */
  oBias: boolean;
  mlpBias: boolean;
  /** Keys further back than this many positions are masked; null for full attention. */
  slidingWindow: number | null;
}

const MODEL_TYPES: readonly string[] = ['llama', 'qwen2', 'mistral'];

/**
 * Validates a parsed config.json. `source` names the file in errors so a user knows which
 * folder is at fault.
 */
export function parseDecoderConfig(raw: unknown, source: string): DecoderConfig {
  if (!raw || typeof raw !== 'object') {
    throw new LmError('MODEL_FILE_INVALID', `${source}: expected a JSON object`);
  }
  const c = raw as Record<string, unknown>;
  const modelType = c['model_type'];
  if (typeof modelType !== 'string' || !MODEL_TYPES.includes(modelType)) {
    throw new LmError(
      'UNSUPPORTED_MODEL',
      `${source}: model_type ${JSON.stringify(modelType)} is not one of ${MODEL_TYPES.join(', ')}`,
    );
  }
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new LmError('MODEL_FILE_INVALID', `${source}: ${key} must be a positive integer`);
    }
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new LmError('MODEL_FILE_INVALID', `${source}: ${key} must be a number`);
    }
    return v;
  };

  const act = c['hidden_act'] ?? 'silu';
  if (act !== 'silu') {
    throw new LmError('UNSUPPORTED_MODEL', `${source}: hidden_act ${String(act)} is not silu`);
  }
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new LmError(
      'MODEL_FILE_INVALID',
      `${source}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads`,
    );
  }
  const headDim = c['head_dim'] == null ? hiddenSize / numHeads : int('head_dim');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new LmError('MODEL_FILE_INVALID', `${source}: head dimension ${headDim} must be even`);
  }

  // Newer transformers releases keep rope settings in rope_parameters; older ones at top level.
  const ropeParams = (c['rope_parameters'] ?? null) as Record<string, unknown> | null;
  const ropeTheta =
    typeof ropeParams?.['rope_theta'] === 'number'
      ? (ropeParams['rope_theta'] as number)
      : num('rope_theta', 10000);
  const scalingRaw = (ropeParams ?? c['rope_scaling'] ?? null) as Record<string, unknown> | null;
  const ropeScaling = parseRopeScaling(scalingRaw, source);

  const maxPositionEmbeddings = int('max_position_embeddings', 2048);
  const attentionBias = c['attention_bias'] === true;
  let slidingWindow: number | null = null;
  if (modelType === 'mistral' && typeof c['sliding_window'] === 'number') {
    // A window at least as long as the context masks nothing, so it is dropped.
    const w = c['sliding_window'];
    slidingWindow = w < maxPositionEmbeddings ? w : null;
  }
  if (modelType === 'qwen2' && c['use_sliding_window'] === true) {
    throw new LmError(
      'UNSUPPORTED_MODEL',
      `${source}: Qwen2 use_sliding_window (per-layer windows) is not supported`,
    );
  }

  return {
    modelType: modelType as ModelType,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings,
    tieWordEmbeddings: c['tie_word_embeddings'] === true,
    qkvBias: modelType === 'qwen2' || attentionBias,
    oBias: modelType === 'llama' && attentionBias,
    mlpBias: modelType === 'llama' && c['mlp_bias'] === true,
    slidingWindow,
  };
}

function parseRopeScaling(raw: Record<string, unknown> | null, source: string): RopeScaling {
  if (!raw) return { type: 'default' };
  const type = raw['rope_type'] ?? raw['type'] ?? 'default';
  const factor = raw['factor'];
  if (type === 'default') return { type: 'default' };
  if (typeof factor !== 'number' || factor <= 0) {
    throw new LmError('MODEL_FILE_INVALID', `${source}: rope scaling needs a positive factor`);
  }
  if (type === 'linear') return { type: 'linear', factor };
  if (type === 'llama3') {
    const field = (k: string): number => {
      const v = raw[k];
      if (typeof v !== 'number') {
        throw new LmError('MODEL_FILE_INVALID', `${source}: llama3 rope scaling needs ${k}`);
      }
      return v;
    };
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: field('low_freq_factor'),
      highFreqFactor: field('high_freq_factor'),
      originalMaxPositionEmbeddings: field('original_max_position_embeddings'),
    };
  }
  throw new LmError(
    'UNSUPPORTED_MODEL',
    `${source}: rope scaling ${String(type)} is not supported`,
  );
}

/**
 * The inverse frequencies of HF's rotate-half RoPE, one per pair of dimensions (headDim / 2).
 * Computed in float32 steps the way transformers does, so angles match to the last bit or two.
 */
export function ropeInverseFrequencies(config: DecoderConfig): Float32Array {
  const half = config.headDim / 2;
  const f = Math.fround;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = f(f(2 * i) / config.headDim);
    inv[i] = f(1 / f(Math.pow(config.ropeTheta, exponent)));
  }
  const s = config.ropeScaling;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f(inv[i]! / s.factor);
  } else if (s.type === 'llama3') {
    // Long wavelengths are slowed by `factor`, short ones kept, the band between blended.
    const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
    const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const freq = inv[i]!;
      const wavelen = (2 * Math.PI) / freq;
      if (wavelen > lowFreqWavelen) {
        inv[i] = f(freq / s.factor);
      } else if (wavelen >= highFreqWavelen) {
        const smooth =
          (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) /
          (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = f((1 - smooth) * (freq / s.factor) + smooth * freq);
      }
    }
  }
  return inv;
}
