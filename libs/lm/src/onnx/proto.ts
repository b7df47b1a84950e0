// Encodes the few ONNX protobuf messages an exported decoder needs (ModelProto and what it
// holds), field numbers as in onnx.proto. Writing only; models are read by ONNX Runtime.
// The npm `onnx-proto` package was not used: it is frozen at ONNX 1.10 and pulls protobufjs 6.

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;

/** A protobuf message as a list of byte chunks, so large tensors are never copied twice. */
class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  int(field: number, value: number): this {
    this.varint(field << 3);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Message): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    for (const c of value.chunks) this.push(c);
    return this;
  }
}

/** A dimension of a graph input or output: a fixed size or a symbolic name. */
export type Dim = number | string;

/** Attribute values by kind, enough for the operators the exporter emits. */
export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string };

/** One graph node. */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** An initializer: inline bytes, or an extent of the external data file beside the model. */
export interface TensorSpec {
  name: string;
  dataType: number;
  dims: number[];
  raw?: Uint8Array;
  external?: { location: string; offset: number; length: number };
}

/** A typed graph input or output. */
export interface ValueInfoSpec {
  name: string;
  dataType: number;
  shape: Dim[];
}

/** The whole model as the exporter describes it. */
export interface ModelSpec {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  graphName: string;
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  inputs: ValueInfoSpec[];
  outputs: ValueInfoSpec[];
  metadata: Record<string, string>;
}

function attribute(name: string, a: AttributeValue): Message {
  const m = new Message().string(1, name);
  switch (a.kind) {
    case 'float':
      return m.float(2, a.value).int(20, 1);
    case 'int':
      return m.int(3, a.value).int(20, 2);
    case 'string':
      return m.string(4, a.value).int(20, 3);
    case 'ints': {
      for (const v of a.value) m.int(8, v);
      return m.int(20, 7);
    }
  }
}

function node(n: NodeSpec): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.message(5, attribute(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

function tensor(t: TensorSpec): Message {
  const m = new Message();
  for (const d of t.dims) m.int(1, d);
  m.int(2, t.dataType).string(8, t.name);
  if (t.external) {
    const entry = (k: string, v: string): Message => new Message().string(1, k).string(2, v);
    m.message(13, entry('location', t.external.location));
    m.message(13, entry('offset', String(t.external.offset)));
    m.message(13, entry('length', String(t.external.length)));
    m.int(14, 1);
  } else {
    m.bytes(9, t.raw ?? new Uint8Array(0));
  }
  return m;
}

function valueInfo(v: ValueInfoSpec): Message {
  const shape = new Message();
  for (const d of v.shape) {
    shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, v.dataType).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

/** Serialises a model to ONNX protobuf bytes, as chunks to be written in order. */
export function encodeModel(spec: ModelSpec): Uint8Array[] {
  const graph = new Message();
  for (const n of spec.nodes) graph.message(1, node(n));
  graph.string(2, spec.graphName);
  for (const t of spec.initializers) graph.message(5, tensor(t));
  for (const i of spec.inputs) graph.message(11, valueInfo(i));
  for (const o of spec.outputs) graph.message(12, valueInfo(o));

  const model = new Message().int(1, spec.irVersion).string(2, spec.producer);
  model.message(7, graph);
  for (const o of spec.opsets)
    model.message(8, new Message().string(1, o.domain).int(2, o.version));
  for (const [k, v] of Object.entries(spec.metadata)) {
    model.message(14, new Message().string(1, k).string(2, v));
  }
  return model.chunks;
}
