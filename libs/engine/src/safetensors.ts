// Reading and writing safetensors files: an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the raw data. Reads convert F32,
// F16, BF16 and F64 to float32; writes float32 (bit-exact) or bfloat16 (rounded to nearest).
import { open, type FileHandle } from 'node:fs/promises';
import { EngineError, toEngineError } from './errors.js';

/** One tensor entry of a safetensors header. */
export interface TensorEntry {
  dtype: string;
  shape: number[];
  begin: number; // byte offset from the start of the file
  end: number;
}

/** An open safetensors file: its header, ready to read tensors one at a time. */
export interface SafetensorsFile {
  path: string;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const elementBytes: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Parses and checks a safetensors header; every range must lie inside the file. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsFile> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (size < 8 || n <= 0 || 8 + n > size) {
      throw new EngineError(
        'INVALID_MODEL',
        `${path}: header length ${n} does not fit a ${size}-byte file`,
      );
    }
    const json = Buffer.alloc(n);
    await fh.read(json, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new EngineError('INVALID_MODEL', `${path}: header is not valid JSON`, { cause: err });
    }
    const tensors = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (value ?? {}) as Record<string, string>;
        continue;
      }
      tensors.set(name, checkEntry(path, name, value, 8 + n, size));
    }
    return { path, tensors, metadata };
  } catch (err) {
    throw toEngineError(err, `reading ${path}`);
  } finally {
    await fh?.close();
  }
}

function checkEntry(path: string, name: string, v: unknown, dataStart: number, size: number) {
  const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const bad = (why: string) => new EngineError('INVALID_MODEL', `${path}: tensor "${name}" ${why}`);
  if (typeof e?.dtype !== 'string') throw bad('has no dtype');
  if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw bad('has a malformed shape');
  }
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o))) {
    throw bad('has malformed data_offsets');
  }
  const [b, en] = off as [number, number];
  const count = (e.shape as number[]).reduce((a, d) => a * d, 1);
  const width = elementBytes[e.dtype];
  if (width !== undefined && en - b !== count * width) {
    const shape = JSON.stringify(e.shape);
    throw bad(`holds ${en - b} bytes, but ${e.dtype} ${shape} needs ${count * width}`);
  }
  if (b < 0 || en < b || dataStart + en > size) throw bad('points past the end of the file');
  return { dtype: e.dtype, shape: e.shape as number[], begin: dataStart + b, end: dataStart + en };
}

/** Reads one tensor as float32, converting from its stored dtype. */
export async function readTensor(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const e = file.tensors.get(name);
  if (!e) throw new EngineError('INVALID_MODEL', `${file.path}: tensor "${name}" is missing`);
  if (!(e.dtype in elementBytes)) {
    throw new EngineError(
      'UNSUPPORTED',
      `${file.path}: tensor "${name}" has dtype ${e.dtype} (F32, F16, BF16, F64 supported)`,
    );
  }
  const bytes = Buffer.alloc(e.end - e.begin);
  const fh = await open(file.path, 'r').catch((err: unknown) => {
    throw toEngineError(err, `reading ${file.path}`);
  });
  try {
    await fh.read(bytes, 0, bytes.length, e.begin);
  } finally {
    await fh.close();
  }
  return toFloat32(bytes, e.dtype);
}

function toFloat32(b: Buffer, dtype: string): Float32Array {
  const n = b.length / elementBytes[dtype]!;
  const out = new Float32Array(n);
  // Buffer.alloc memory starts at offset 0 of its own ArrayBuffer, so typed views are aligned.
  // The host is little-endian, as safetensors is.
  if (dtype === 'F32') {
    out.set(new Float32Array(b.buffer, b.byteOffset, n));
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(8 * i);
  } else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = b.readUInt16LE(2 * i) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(b.readUInt16LE(2 * i));
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Storage types a save can choose: float32 round-trips exactly, bfloat16 halves the size. */
export type SaveDtype = 'float32' | 'bfloat16';

/** A tensor to write: the data is always float32 in memory. */
export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Writes tensors, in the given order, as one safetensors file. */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  dtype: SaveDtype = 'float32',
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const width = dtype === 'float32' ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * width;
    header[t.name] = {
      dtype: dtype === 'float32' ? 'F32' : 'BF16',
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8; // keeps the data 8-byte aligned
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));

  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'w');
    await fh.write(len);
    await fh.write(json);
    for (const t of tensors) await fh.write(encode(t.data, dtype));
  } catch (err) {
    throw toEngineError(err, `writing ${path}`);
  } finally {
    await fh?.close();
  }
}

function encode(data: Float32Array, dtype: SaveDtype): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = Buffer.alloc(data.length * 2);
  for (let i = 0; i < data.length; i++) {
    const x = u[i]!;
    // Round to nearest even; NaN stays NaN.
    const isNan = (x & 0x7fffffff) > 0x7f800000;
    const r = isNan ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    out.writeUInt16LE(r & 0xffff, 2 * i);
  }
  return out;
}
