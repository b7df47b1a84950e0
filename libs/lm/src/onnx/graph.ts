// A small builder for ONNX graphs: adds nodes with fresh output names, constants and weight
// initializers, so the decoder definition reads as a sequence of tensor operations. It knows
// nothing about any model.
import { DataType, type AttributeValue, type NodeSpec, type TensorSpec } from './proto.js';

/** Attributes as plain values: integers, floats, integer lists or strings. */
export type Attrs = Record<string, number | number[] | string | { float: number }>;

function toAttribute(v: Attrs[string]): AttributeValue {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v };
  if (typeof v === 'object') return { kind: 'float', value: v.float };
  return { kind: 'int', value: v };
}

/**
 * Accumulates nodes and initializers. `op` returns the name of the node's (first) output, so
 * calls nest like expressions: `g.op('Add', [g.op('Mul', [a, b]), c])`.
 */
export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private counter = 0;
  private readonly constants = new Map<string, string>();

  /** Adds a node; `outputs` names its outputs (fresh names when omitted). */
  op(opType: string, inputs: string[], attrs: Attrs = {}, outputs?: string[] | number): string {
    return this.opMulti(opType, inputs, attrs, outputs)[0]!;
  }

  /** Like `op`, for nodes with several outputs (Split). */
  opMulti(
    opType: string,
    inputs: string[],
    attrs: Attrs = {},
    outputs?: string[] | number,
  ): string[] {
    const id = this.counter++;
    const outs = Array.isArray(outputs)
      ? outputs
      : Array.from({ length: outputs ?? 1 }, (_, i) => `/${opType}_${id}/out${i}`);
    const attributes: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(v);
    this.nodes.push({ opType, inputs, outputs: outs, name: `/${opType}_${id}`, attributes });
    return outs;
  }

  /** An int64 constant tensor (1-D, or a scalar when `scalar`), shared between uses. */
  int64(values: number[], scalar = false): string {
    const key = `i64:${scalar}:${values.join(',')}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = `const_i64_${this.constants.size}`;
    const raw = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
    this.initializers.push({
      name,
      dataType: DataType.INT64,
      dims: scalar ? [] : [values.length],
      raw,
    });
    this.constants.set(key, name);
    return name;
  }

  /** A float32 scalar constant, shared between uses. */
  float(value: number): string {
    const key = `f32:${Math.fround(value)}`;
    const known = this.constants.get(key);
    if (known) return known;
    const name = `const_f32_${this.constants.size}`;
    const raw = new Uint8Array(Float32Array.of(value).buffer);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims: [], raw });
    this.constants.set(key, name);
    return name;
  }

  /** A named float32 weight. */
  weight(name: string, dims: number[], data: Float32Array): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, raw });
    return name;
  }
}
