// Builds Hugging Face checkpoints with deterministic random weights from a config and a seed, for
// export parity tests and benchmarks. The generator is a counter-based hash simple enough to
// mirror exactly in numpy (tools/oracles/lm), so the oracle and the tests hold the same weights
// without committing any weight file. The weights are noise: nothing here is a trained model.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDecoderConfig, type DecoderConfig } from './config.js';
import { writeSafetensors, type NamedTensor } from './safetensors.js';

function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Uniform noise in [-scale, scale) for the tensor `name`: element i depends only on (seed, name,
 * i), each value rounded to float32 at the same steps as the numpy mirror.
 */
export function hashedUniform(
  seed: number,
  name: string,
  count: number,
  scale: number,
): Float32Array {
  const f = Math.fround;
  const s = f(scale);
  const base = lowbias32((seed ^ fnv1a32(name)) >>> 0);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = (lowbias32((base + i) >>> 0) >>> 8) * 2 ** -24;
    out[i] = f((2 * u - 1) * s);
  }
  return out;
}

// Small embeddings keep the residual stream from simply repeating the last token; a tied
// output layer then needs a larger final norm for its logits to spread out.
const EMBED_SCALE = 0.1;
const TIED_FINAL_NORM = 8;

/** The tensors of a Llama-family decoder, named as transformers names them. */
export function randomDecoderWeights(config: DecoderConfig, seed: number): NamedTensor[] {
  const { hiddenSize: C, intermediateSize: F, vocabSize: V, headDim: D } = config;
  const qDim = config.numHeads * D;
  const kvDim = config.numKvHeads * D;
  const out: NamedTensor[] = [];
  const linear = (name: string, rows: number, cols: number, gain = 1, bias = false): void => {
    const scale = gain * Math.sqrt(3 / cols);
    out.push({
      name: `${name}.weight`,
      shape: [rows, cols],
      data: hashedUniform(seed, `${name}.weight`, rows * cols, scale),
    });
    if (bias)
      out.push({
        name: `${name}.bias`,
        shape: [rows],
        data: hashedUniform(seed, `${name}.bias`, rows, 0.1),
      });
  };
  const norm = (name: string, center = 1): void => {
    const noise = hashedUniform(seed, name, C, 0.2);
    const data = noise.map((x) => Math.fround(center + x));
    out.push({ name, shape: [C], data });
  };

  const embedName = 'model.embed_tokens.weight';
  out.push({
    name: embedName,
    shape: [V, C],
    data: hashedUniform(seed, embedName, V * C, EMBED_SCALE),
  });
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    norm(`${p}.input_layernorm.weight`);
    linear(`${p}.self_attn.q_proj`, qDim, C, 1, config.qkvBias);
    linear(`${p}.self_attn.k_proj`, kvDim, C, 1, config.qkvBias);
    linear(`${p}.self_attn.v_proj`, kvDim, C, 1, config.qkvBias);
    linear(`${p}.self_attn.o_proj`, C, qDim, 1, config.oBias);
    norm(`${p}.post_attention_layernorm.weight`);
    linear(`${p}.mlp.gate_proj`, F, C, 1, config.mlpBias);
    linear(`${p}.mlp.up_proj`, F, C, 1, config.mlpBias);
    linear(`${p}.mlp.down_proj`, C, F, 1, config.mlpBias);
  }
  norm('model.norm.weight', config.tieWordEmbeddings ? TIED_FINAL_NORM : 1);
  if (!config.tieWordEmbeddings) linear('lm_head', V, C, 3);
  return out;
}

/**
 * Writes config.json and model.safetensors for `hfConfig` (a config.json object) into `dir`,
 * with weights from `randomDecoderWeights`. Returns the parsed config.
 */
export function writeRandomCheckpoint(
  dir: string,
  hfConfig: Record<string, unknown>,
  seed: number,
): DecoderConfig {
  const config = parseDecoderConfig(hfConfig, 'config');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(hfConfig, null, 2)}\n`);
  writeSafetensors(join(dir, 'model.safetensors'), randomDecoderWeights(config, seed));
  return config;
}
