// Reads llama2.c's legacy .bin checkpoints (a 7-int header, then float32 weights) into a
// ModelConfig and Hugging Face-named tensors. llama2.c rotates adjacent pairs of each head
// (2i, 2i + 1) while the engine rotates halves (i, i + HS/2), so the rows of wq and wk are
// permuted within each head. The llama2.c tokenizer file is not read.
import { readFile } from 'node:fs/promises';
import { llamaConfig, type ModelConfig } from './config.js';
import { EngineError, toEngineError } from './errors.js';
import type { TensorToWrite } from './safetensors.js';

/** A llama2.c checkpoint translated to the engine's names and RoPE convention. */
export interface Llama2cCheckpoint {
  config: ModelConfig;
  tensors: TensorToWrite[];
}

/** Reads a llama2.c .bin file; BOS is token 1 and EOS token 2 as in llama2.c. */
export async function readLlama2c(file: string): Promise<Llama2cCheckpoint> {
  const buf = await readFile(file).catch((err: unknown) => {
    throw toEngineError(err, `reading ${file}`);
  });
  if (buf.length < 28) {
    throw new EngineError('INVALID_MODEL', `${file}: too short for a llama2.c header`);
  }
  const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from(
    { length: 7 },
    (_, i) => buf.readInt32LE(4 * i),
  ) as [number, number, number, number, number, number, number];
  const shared = vocabSigned > 0;
  const vocab = Math.abs(vocabSigned);
  const sizes = [dim, hidden, layers, heads, kvHeads, vocab, seqLen];
  if (sizes.some((v) => v <= 0) || dim % heads !== 0) {
    throw new EngineError(
      'INVALID_MODEL',
      `${file}: header [${dim}, ${hidden}, ${layers}, ${heads}, ${kvHeads}, ${vocabSigned}, ` +
        `${seqLen}] is not a llama2.c model`,
    );
  }
  const hs = dim / heads;
  const kv = kvHeads * hs;
  const body = buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length);
  const floats = new Float32Array(body);

  let at = 0;
  const take = (count: number): Float32Array => {
    if (at + count > floats.length) {
      throw new EngineError('INVALID_MODEL', `${file}: file ends before all weights are read`);
    }
    const t = floats.slice(at, at + count);
    at += count;
    return t;
  };
  const perLayer = (count: number) => Array.from({ length: layers }, () => take(count));

  const embed = take(vocab * dim);
  const attnNorm = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kv * dim);
  const wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim);
  const ffnNorm = perLayer(dim);
  const w1 = perLayer(hidden * dim);
  const w2 = perLayer(dim * hidden);
  const w3 = perLayer(hidden * dim);
  const finalNorm = take(dim);
  take(seqLen * hs); // RoPE cos and sin tables, recomputed by the engine
  const head = shared ? undefined : take(vocab * dim);

  const config = llamaConfig({
    vocabSize: vocab, hiddenSize: dim, intermediateSize: hidden, numLayers: layers,
    numHeads: heads, numKvHeads: kvHeads, maxPositionEmbeddings: seqLen, rmsNormEps: 1e-5,
    tieWordEmbeddings: shared, bosTokenId: 1, eosTokenId: 2,
  });
  const tensors: TensorToWrite[] = [
    { name: 'model.embed_tokens.weight', shape: [vocab, dim], data: embed },
  ];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    tensors.push(
      { name: p + 'input_layernorm.weight', shape: [dim], data: attnNorm[l]! },
      {
        name: p + 'self_attn.q_proj.weight',
        shape: [dim, dim],
        data: pairsToHalves(wq[l]!, heads, hs, dim),
      },
      {
        name: p + 'self_attn.k_proj.weight',
        shape: [kv, dim],
        data: pairsToHalves(wk[l]!, kvHeads, hs, dim),
      },
      { name: p + 'self_attn.v_proj.weight', shape: [kv, dim], data: wv[l]! },
      { name: p + 'self_attn.o_proj.weight', shape: [dim, dim], data: wo[l]! },
      { name: p + 'post_attention_layernorm.weight', shape: [dim], data: ffnNorm[l]! },
      { name: p + 'mlp.gate_proj.weight', shape: [hidden, dim], data: w1[l]! },
      { name: p + 'mlp.up_proj.weight', shape: [hidden, dim], data: w3[l]! },
      { name: p + 'mlp.down_proj.weight', shape: [dim, hidden], data: w2[l]! },
    );
  }
  tensors.push({ name: 'model.norm.weight', shape: [dim], data: finalNorm });
  if (head) tensors.push({ name: 'lm_head.weight', shape: [vocab, dim], data: head });
  return { config, tensors };
}

/** Row 2i + j of each head (j = 0, 1) moves to row j * HS/2 + i. */
function pairsToHalves(w: Float32Array, heads: number, hs: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = hs / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * hs + 2 * i + j) * cols;
        const to = (h * hs + j * half + i) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}
