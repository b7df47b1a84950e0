// Converts a llama2.c model file (the legacy float32 format: a 7-int header, then the weights)
// into a Hugging Face Llama checkpoint (config.json + model.safetensors) that exportOnnx and the
// engine read. Only the legacy version-0 layout is read; llama2.c's quantized formats are not.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LmError } from './errors.js';
import { writeSafetensors, type NamedTensor } from './safetensors.js';
import { join } from 'node:path';

/** The header of a llama2.c file. */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/**
 * llama2.c rotates adjacent pairs (2i, 2i+1) of a head; transformers rotates halves (i, i+D/2).
 * Reordering the rows of wq and wk inside each head (row 2i to i, row 2i+1 to i+D/2) makes the
 * two conventions compute the same attention.
 */
function halvesFromPairs(
  w: Float32Array,
  heads: number,
  headDim: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (const [from, to] of [
        [2 * i, i],
        [2 * i + 1, i + half],
      ] as const) {
        const src = (h * headDim + from) * cols;
        out.set(w.subarray(src, src + cols), (h * headDim + to) * cols);
      }
    }
  }
  return out;
}

/** Writes `outDir`/config.json and model.safetensors from the llama2.c file `binPath`. */
export function convertLlama2c(binPath: string, outDir: string): Llama2cHeader {
  let bytes: Buffer;
  try {
    bytes = readFileSync(binPath);
  } catch (cause) {
    throw new LmError('MODEL_FILE_MISSING', `${binPath} could not be read`, { cause });
  }
  if (bytes.length < 28) throw new LmError('MODEL_FILE_INVALID', `${binPath} is too short`);
  const ints = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 28));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = Array.from(ints) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const header: Llama2cHeader = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(vocabRaw),
    seqLen,
    sharedClassifier: vocabRaw > 0,
  };
  const D = dim / nHeads;
  const kv = nKvHeads * D;
  const V = header.vocabSize;
  const floats = new Float32Array(
    bytes.buffer.slice(
      bytes.byteOffset + 28,
      bytes.byteOffset + bytes.length - ((bytes.length - 28) % 4),
    ),
  );

  let offset = 0;
  const take = (count: number): Float32Array => {
    if (offset + count > floats.length) {
      throw new LmError('MODEL_FILE_INVALID', `${binPath} ends before its weights do`);
    }
    const out = floats.slice(offset, offset + count);
    offset += count;
    return out;
  };
  const perLayer = (size: number): Float32Array[] =>
    Array.from({ length: nLayers }, () => take(size));

  const embed = take(V * dim);
  const attnNorm = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kv * dim);
  const wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim);
  const ffnNorm = perLayer(dim);
  const w1 = perLayer(hiddenDim * dim);
  const w2 = perLayer(dim * hiddenDim);
  const w3 = perLayer(hiddenDim * dim);
  const finalNorm = take(dim);
  offset += seqLen * (D / 2) * 2; // precomputed RoPE tables, not needed
  const classifier = header.sharedClassifier ? null : take(V * dim);

  const tensors: NamedTensor[] = [
    { name: 'model.embed_tokens.weight', shape: [V, dim], data: embed },
  ];
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      { name: `${p}.input_layernorm.weight`, shape: [dim], data: attnNorm[l]! },
      {
        name: `${p}.self_attn.q_proj.weight`,
        shape: [dim, dim],
        data: halvesFromPairs(wq[l]!, nHeads, D, dim),
      },
      {
        name: `${p}.self_attn.k_proj.weight`,
        shape: [kv, dim],
        data: halvesFromPairs(wk[l]!, nKvHeads, D, dim),
      },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, dim], data: wv[l]! },
      { name: `${p}.self_attn.o_proj.weight`, shape: [dim, dim], data: wo[l]! },
      { name: `${p}.post_attention_layernorm.weight`, shape: [dim], data: ffnNorm[l]! },
      { name: `${p}.mlp.gate_proj.weight`, shape: [hiddenDim, dim], data: w1[l]! },
      { name: `${p}.mlp.down_proj.weight`, shape: [dim, hiddenDim], data: w2[l]! },
      { name: `${p}.mlp.up_proj.weight`, shape: [hiddenDim, dim], data: w3[l]! },
    );
  }
  tensors.push({ name: 'model.norm.weight', shape: [dim], data: finalNorm });
  if (classifier) tensors.push({ name: 'lm_head.weight', shape: [V, dim], data: classifier });

  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: V,
    hidden_size: dim,
    intermediate_size: hiddenDim,
    num_hidden_layers: nLayers,
    num_attention_heads: nHeads,
    num_key_value_heads: nKvHeads,
    max_position_embeddings: seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    tie_word_embeddings: header.sharedClassifier,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeSafetensors(join(outDir, 'model.safetensors'), tensors);
  return header;
}
