// Model configuration: the typed record the engine runs on, its parsing from a Hugging Face
// config.json (Llama 2/3, Qwen2/2.5, Mistral) and back, and named presets. Architectures
// outside that family, and features such as Qwen2's layer-wise sliding window, are rejected.
import { EngineError } from './errors.js';
import type { NativeModelConfig } from './native.js';

/** Architectures the engine implements (Hugging Face `model_type`). */
export type Architecture = 'llama' | 'qwen2' | 'mistral';

/** RoPE frequency scaling; `llama3` is the Llama 3.1 scheme, `linear` divides positions. */
export interface RopeScaling {
  type: 'none' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** A decoder's hyperparameters: everything that decides the graph and the tensor shapes. */
export interface ModelConfig extends NativeModelConfig {
  architecture: Architecture;
  maxPositionEmbeddings: number;
  ropeScaling: RopeScaling;
  bosTokenId?: number;
  eosTokenId?: number | number[];
}

const noScaling: RopeScaling = {
  type: 'none',
  factor: 1,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 8192,
};

const architectures: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  MistralForCausalLM: 'mistral',
};

type Json = Record<string, unknown>;

function bad(file: string, field: string, why: string): EngineError {
  return new EngineError('INVALID_MODEL', `${file}: field "${field}" ${why}`);
}

function int(raw: Json, file: string, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw bad(file, key, v === undefined ? 'is missing' : 'must be a non-negative integer');
  }
  return v;
}

function num(raw: Json, file: string, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw bad(file, key, v === undefined ? 'is missing' : 'must be a finite number');
  }
  return v;
}

function parseRope(raw: Json, file: string): { theta: number; scaling: RopeScaling } {
  // transformers 5 writes rope_parameters; older files have rope_theta and rope_scaling.
  const params = (raw.rope_parameters ?? null) as Json | null;
  const legacy = (raw.rope_scaling ?? null) as Json | null;
  const theta = num(params ?? raw, file, 'rope_theta', 10000);
  const s = params ?? legacy;
  const type = s ? String(s.rope_type ?? s.type ?? 'default') : 'default';
  if (!s || type === 'default') return { theta, scaling: noScaling };
  const field = params ? 'rope_parameters' : 'rope_scaling';
  if (type === 'linear') {
    return { theta, scaling: { ...noScaling, type: 'linear', factor: num(s, file, 'factor') } };
  }
  if (type === 'llama3') {
    return {
      theta,
      scaling: {
        type: 'llama3',
        factor: num(s, file, 'factor'),
        lowFreqFactor: num(s, file, 'low_freq_factor'),
        highFreqFactor: num(s, file, 'high_freq_factor'),
        originalMaxPositionEmbeddings: int(s, file, 'original_max_position_embeddings'),
      },
    };
  }
  throw new EngineError(
    'UNSUPPORTED',
    `${file}: ${field}.rope_type "${type}" is not supported (supported: default, linear, llama3)`,
  );
}

/**
 * Reads a Hugging Face config.json object into a ModelConfig. `file` names the source in
 * errors. Unknown architectures fail with UNSUPPORTED, malformed fields with INVALID_MODEL.
 */
export function parseHfConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new EngineError('INVALID_MODEL', `${file}: not a JSON object`);
  }
  const r = raw as Json;
  const listed = Array.isArray(r.architectures) ? String(r.architectures[0]) : undefined;
  const arch = (listed && architectures[listed]) || (r.model_type as Architecture | undefined);
  if (!arch || !['llama', 'qwen2', 'mistral'].includes(arch)) {
    const what = listed ?? String(r.model_type ?? 'none given');
    throw new EngineError(
      'UNSUPPORTED',
      `${file}: architecture "${what}" is not supported ` +
        '(supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM)',
    );
  }
  const act = r.hidden_act ?? 'silu';
  if (act !== 'silu') throw bad(file, 'hidden_act', `is "${String(act)}"; only silu is supported`);

  let slidingWindow = 0;
  if (arch === 'mistral' && typeof r.sliding_window === 'number') slidingWindow = r.sliding_window;
  const layerTypes = Array.isArray(r.layer_types) ? (r.layer_types as unknown[]) : [];
  const slidingLayers = layerTypes.some((t) => t !== 'full_attention');
  if (arch === 'qwen2' && (r.use_sliding_window === true || slidingLayers)) {
    throw new EngineError('UNSUPPORTED', `${file}: Qwen2 sliding-window layers are not supported`);
  }

  const heads = int(r, file, 'num_attention_heads');
  const hidden = int(r, file, 'hidden_size');
  const rope = parseRope(r, file);
  const attentionBias = r.attention_bias === true;
  const config: ModelConfig = {
    architecture: arch,
    vocabSize: int(r, file, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: int(r, file, 'intermediate_size'),
    numLayers: int(r, file, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: int(r, file, 'num_key_value_heads', heads),
    headDim: r.head_dim == null ? 0 : int(r, file, 'head_dim'),
    rmsNormEps: num(r, file, 'rms_norm_eps', 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    slidingWindow,
    maxPositionEmbeddings: int(r, file, 'max_position_embeddings', 2048),
    tieWordEmbeddings: r.tie_word_embeddings === true,
    qkvBias: arch === 'qwen2' || attentionBias,
    oBias: arch === 'llama' && attentionBias,
    mlpBias: arch === 'llama' && r.mlp_bias === true,
  };
  if (typeof r.bos_token_id === 'number') config.bosTokenId = r.bos_token_id;
  if (typeof r.eos_token_id === 'number' || Array.isArray(r.eos_token_id)) {
    config.eosTokenId = r.eos_token_id as number | number[];
  }
  if (config.headDim === hidden / heads) config.headDim = 0;
  return config;
}

/** Writes a config.json object for a ModelConfig, in the transformers 4 layout. */
export function toHfConfig(c: ModelConfig): Json {
  const names = {
    llama: 'LlamaForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    mistral: 'MistralForCausalLM',
  };
  const out: Json = {
    architectures: [names[c.architecture]],
    model_type: c.architecture,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim || c.hiddenSize / c.numHeads,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: 'float32',
  };
  if (c.ropeScaling.type === 'linear') {
    out.rope_scaling = { rope_type: 'linear', factor: c.ropeScaling.factor };
  } else if (c.ropeScaling.type === 'llama3') {
    out.rope_scaling = {
      rope_type: 'llama3',
      factor: c.ropeScaling.factor,
      low_freq_factor: c.ropeScaling.lowFreqFactor,
      high_freq_factor: c.ropeScaling.highFreqFactor,
      original_max_position_embeddings: c.ropeScaling.originalMaxPositionEmbeddings,
    };
  }
  if (c.architecture === 'llama') {
    out.attention_bias = c.qkvBias;
    out.mlp_bias = c.mlpBias;
  }
  if (c.architecture === 'mistral') out.sliding_window = c.slidingWindow || null;
  if (c.architecture === 'qwen2') out.use_sliding_window = false;
  if (c.bosTokenId !== undefined) out.bos_token_id = c.bosTokenId;
  if (c.eosTokenId !== undefined) out.eos_token_id = c.eosTokenId;
  return out;
}

/** The sizes a preset or a caller must give; everything else has a Llama default. */
export type ModelShape = Pick<
  ModelConfig,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads'
> &
  Partial<ModelConfig>;

/** Completes a shape into a Llama-style ModelConfig (RoPE theta 10000, untied, no biases). */
export function llamaConfig(shape: ModelShape): ModelConfig {
  return {
    architecture: 'llama',
    headDim: 0,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: { ...noScaling },
    slidingWindow: 0,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: false,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    ...shape,
  };
}

/** Named model sizes: the tests' tiny model and the benchmark's ~20M-parameter Llama. */
export const presets = {
  tiny: llamaConfig({
    vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
  }),
  llama20m: llamaConfig({
    vocabSize: 8192, hiddenSize: 384, intermediateSize: 1152, numLayers: 8, numHeads: 6,
    numKvHeads: 2,
  }),
} satisfies Record<string, ModelConfig>;

/** The part of a ModelConfig the addon reads. */
export function nativeConfig(c: ModelConfig): NativeModelConfig {
  return {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    rmsNormEps: c.rmsNormEps,
    ropeTheta: c.ropeTheta,
    slidingWindow: c.slidingWindow,
    tieWordEmbeddings: c.tieWordEmbeddings,
    qkvBias: c.qkvBias,
    oBias: c.oBias,
    mlpBias: c.mlpBias,
    ropeScaling: { ...c.ropeScaling },
  };
}
