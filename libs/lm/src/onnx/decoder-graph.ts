// Defines a Llama-family decoder with a KV cache as an ONNX graph in the layout Hugging Face
// Optimum and transformers.js use: inputs input_ids, attention_mask, position_ids and
// past_key_values.N.key|value; outputs logits and present.N.key|value. Standard opset-17
// operators only (ONNX Runtime fuses the RMSNorm pattern itself); no com.microsoft contrib ops,
// so attention is plain MatMul + Softmax and costs O(T) memory per query row.
//
// Shapes: B batch, S new tokens, P past tokens, T = P + S, C hidden, H query heads,
// K key/value heads, G = H / K, D head dim, F MLP width, V vocabulary.
import type { DecoderConfig } from '../config.js';
import { ropeInverseFrequencies } from '../config.js';
import { LmError } from '../errors.js';
import type { FloatTensor } from '../safetensors.js';
import { GraphBuilder } from './graph.js';
import { DataType, type ModelSpec, type ValueInfoSpec } from './proto.js';

/** Opset of the default ONNX domain the graph is written against. */
export const OPSET = 17;

/** The most negative float32: masked scores stay finite so fully masked pad rows cannot NaN. */
const MASK_VALUE = -3.4028234663852886e38;

/** Supplies checkpoint tensors by their transformers name. */
export interface WeightSource {
  has(name: string): boolean;
  read(name: string): FloatTensor;
}

function transpose2d(t: FloatTensor, name: string): { dims: number[]; data: Float32Array } {
  if (t.shape.length !== 2) throw new LmError('MODEL_FILE_INVALID', `${name} is not a matrix`);
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c]!;
  }
  return { dims: [cols, rows], data: out };
}

/**
 * Builds the ONNX model of `config` with weights from `weights`. Linear weights are stored
 * transposed ([in, out]) for MatMul; a tied output layer reuses the embedding through Gemm.
 */
export function buildDecoderGraph(config: DecoderConfig, weights: WeightSource): ModelSpec {
  const g = new GraphBuilder();
  const { hiddenSize: C, headDim: D, numHeads: H, numKvHeads: K, vocabSize: V } = config;

  const read = (name: string, shape: number[]): FloatTensor => {
    if (!weights.has(name)) throw new LmError('MODEL_FILE_INVALID', `checkpoint lacks ${name}`);
    const t = weights.read(name);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new LmError(
        'MODEL_FILE_INVALID',
        `${name} has shape [${t.shape}], config.json implies [${shape}]`,
      );
    }
    return t;
  };
  const linear = (x: string, name: string, out: number, inp: number, bias: boolean): string => {
    const w = transpose2d(read(`${name}.weight`, [out, inp]), name);
    let y = g.op('MatMul', [x, g.weight(`${name}.weight`, w.dims, w.data)]);
    if (bias)
      y = g.op('Add', [y, g.weight(`${name}.bias`, [out], read(`${name}.bias`, [out]).data)]);
    return y;
  };
  const rmsNorm = (x: string, name: string): string => {
    const w = g.weight(name, [C], read(name, [C]).data);
    const variance = g.op('ReduceMean', [g.op('Pow', [x, g.float(2)])], {
      axes: [-1],
      keepdims: 1,
    });
    const denom = g.op('Sqrt', [g.op('Add', [variance, g.float(config.rmsNormEps)])]);
    return g.op('Mul', [g.op('Div', [x, denom]), w]);
  };

  // Sizes known only at run time, as 1-element int64 tensors.
  const idsShape = g.op('Shape', ['input_ids']);
  const batch = g.op('Gather', [idsShape, g.int64([0])], { axis: 0 });
  const seq = g.op('Gather', [idsShape, g.int64([1])], { axis: 0 });
  const total = g.op('Gather', [g.op('Shape', ['attention_mask']), g.int64([1])], { axis: 0 });
  const past = g.op('Sub', [total, seq]);

  // Rotary tables from position_ids, so left-padded rows rotate by their own positions.
  const invFreq = g.weight('rotary.inv_freq', [D / 2], ropeInverseFrequencies(config));
  const positions = g.op('Unsqueeze', [
    g.op('Cast', ['position_ids'], { to: DataType.FLOAT }),
    g.int64([2]),
  ]);
  const freqs = g.op('Mul', [positions, invFreq]);
  const angles = g.op('Concat', [freqs, freqs], { axis: -1 });
  const cos = g.op('Unsqueeze', [g.op('Cos', [angles]), g.int64([1])]);
  const sin = g.op('Unsqueeze', [g.op('Sin', [angles]), g.int64([1])]);
  const rope = (x: string): string => {
    const [x1, x2] = g.opMulti('Split', [x, g.int64([D / 2, D / 2])], { axis: -1 }, 2);
    const rotated = g.op('Concat', [g.op('Neg', [x2!]), x1!], { axis: -1 });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  // Additive mask [B, 1, S, T]: a query at absolute index P + i sees keys j <= P + i that the
  // attention mask marks real (and, with a sliding window, j > P + i - window).
  const scalar = (t: string): string => g.op('Squeeze', [t, g.int64([0])]);
  const keyIdx = g.op('Range', [g.int64([0], true), scalar(total), g.int64([1], true)]);
  const queryIdx = g.op('Range', [scalar(past), scalar(total), g.int64([1], true)]);
  const keyRow = g.op('Unsqueeze', [keyIdx, g.int64([0])]);
  const queryCol = g.op('Unsqueeze', [queryIdx, g.int64([1])]);
  let allowed = g.op('LessOrEqual', [keyRow, queryCol]);
  if (config.slidingWindow !== null) {
    const oldest = g.op('Sub', [queryCol, g.int64([config.slidingWindow], true)]);
    allowed = g.op('And', [allowed, g.op('Greater', [keyRow, oldest])]);
  }
  const padMask = g.op('Unsqueeze', [
    g.op('Cast', ['attention_mask'], { to: DataType.BOOL }),
    g.int64([1, 2]),
  ]);
  allowed = g.op('And', [allowed, padMask]);
  const maskBias = g.op('Where', [allowed, g.float(0), g.float(MASK_VALUE)]);

  const embed = read('model.embed_tokens.weight', [V, C]);
  const embedName = g.weight('model.embed_tokens.weight', [V, C], embed.data);
  let x = g.op('Gather', [embedName, 'input_ids'], { axis: 0 });

  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const heads = (t: string, n: number): string =>
      g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, n, D])])], { perm: [0, 2, 1, 3] });
    const q = rope(heads(linear(h, `${p}.self_attn.q_proj`, H * D, C, config.qkvBias), H));
    const k = rope(heads(linear(h, `${p}.self_attn.k_proj`, K * D, C, config.qkvBias), K));
    const v = heads(linear(h, `${p}.self_attn.v_proj`, K * D, C, config.qkvBias), K);
    const keys = g.op('Concat', [`past_key_values.${l}.key`, k], { axis: 2 }, [`present.${l}.key`]);
    const values = g.op('Concat', [`past_key_values.${l}.value`, v], { axis: 2 }, [
      `present.${l}.value`,
    ]);

    // Grouped-query attention without copying K/V: the G query heads sharing a key/value head
    // are stacked along the time axis, [B, K, G*S, D] x [B, K, D, T].
    const grouped = g.op('Reshape', [q, g.int64([0, K, -1, D])]);
    const keysT = g.op('Transpose', [keys], { perm: [0, 1, 3, 2] });
    const scores = g.op('Mul', [g.op('MatMul', [grouped, keysT]), g.float(1 / Math.sqrt(D))]);
    const masked = g.op('Add', [g.op('Reshape', [scores, g.int64([0, H, -1, 0])]), maskBias]);
    const probs = g.op('Reshape', [
      g.op('Softmax', [masked], { axis: -1 }),
      g.int64([0, K, -1, 0]),
    ]);
    const context = g.op('Reshape', [g.op('MatMul', [probs, values]), g.int64([0, H, -1, D])]);
    const merged = g.op('Reshape', [
      g.op('Transpose', [context], { perm: [0, 2, 1, 3] }),
      g.int64([0, 0, H * D]),
    ]);
    x = g.op('Add', [x, linear(merged, `${p}.self_attn.o_proj`, C, H * D, config.oBias)]);

    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const F = config.intermediateSize;
    const gate = linear(h2, `${p}.mlp.gate_proj`, F, C, config.mlpBias);
    const up = linear(h2, `${p}.mlp.up_proj`, F, C, config.mlpBias);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj`, C, F, config.mlpBias)]);
  }

  const final = rmsNorm(x, 'model.norm.weight');
  if (config.tieWordEmbeddings || !weights.has('lm_head.weight')) {
    if (!config.tieWordEmbeddings) {
      throw new LmError(
        'MODEL_FILE_INVALID',
        'checkpoint lacks lm_head.weight and config.json does not tie word embeddings',
      );
    }
    const flat = g.op('Reshape', [final, g.int64([-1, C])]);
    const logits2d = g.op('Gemm', [flat, embedName], { transB: 1 });
    const shape = g.op('Concat', [batch, seq, g.int64([V])], { axis: 0 });
    g.op('Reshape', [logits2d, shape], {}, ['logits']);
  } else {
    const w = transpose2d(read('lm_head.weight', [V, C]), 'lm_head');
    g.op('MatMul', [final, g.weight('lm_head.weight', w.dims, w.data)], {}, ['logits']);
  }

  const kvShape = (time: string): (number | string)[] => ['batch_size', K, time, D];
  const inputs: ValueInfoSpec[] = [
    { name: 'input_ids', dataType: DataType.INT64, shape: ['batch_size', 'sequence_length'] },
    {
      name: 'attention_mask',
      dataType: DataType.INT64,
      shape: ['batch_size', 'total_sequence_length'],
    },
    { name: 'position_ids', dataType: DataType.INT64, shape: ['batch_size', 'sequence_length'] },
  ];
  const outputs: ValueInfoSpec[] = [
    { name: 'logits', dataType: DataType.FLOAT, shape: ['batch_size', 'sequence_length', V] },
  ];
  for (let l = 0; l < config.numLayers; l++) {
    for (const kind of ['key', 'value']) {
      inputs.push({
        name: `past_key_values.${l}.${kind}`,
        dataType: DataType.FLOAT,
        shape: kvShape('past_sequence_length'),
      });
      outputs.push({
        name: `present.${l}.${kind}`,
        dataType: DataType.FLOAT,
        shape: kvShape('total_sequence_length'),
      });
    }
  }

  return {
    irVersion: 8,
    opsets: [{ domain: '', version: OPSET }],
    producer: '@delta/lm',
    graphName: `${config.modelType}_decoder_with_past`,
    nodes: g.nodes,
    initializers: g.initializers,
    inputs,
    outputs,
    metadata: { model_type: config.modelType },
  };
}
