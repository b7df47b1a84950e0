// Reads and writes safetensors files, the weight format of Hugging Face checkpoints: one file or
// a sharded set named by model.safetensors.index.json. Tensors are read one at a time from disk,
// so a checkpoint larger than memory can be exported tensor by tensor. Only floating-point
// tensors convert to Float32Array; integer tensors are reported as unsupported there.
import { closeSync, existsSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LmError } from './errors.js';

/** Element types named by the safetensors header. */
export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Where one tensor lives, as the header describes it. */
export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  file: string;
  begin: number;
  end: number;
}

/** A float tensor in memory, row-major, the shape HF gives it ([out, in] for a Linear). */
export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * An open checkpoint: every tensor name with its location. Files stay closed until a tensor is
 * read, so listing a sharded 8B checkpoint costs only its headers.
 */
export class SafetensorsCheckpoint {
  private constructor(readonly tensors: ReadonlyMap<string, TensorInfo>) {}

  /** Opens `model.safetensors` or the shards named by `model.safetensors.index.json`. */
  static open(dir: string): SafetensorsCheckpoint {
    const single = join(dir, 'model.safetensors');
    const index = join(dir, 'model.safetensors.index.json');
    const tensors = new Map<string, TensorInfo>();
    if (existsSync(single)) {
      for (const info of readHeader(single)) tensors.set(info[0], info[1]);
    } else if (existsSync(index)) {
      const files = shardFiles(index);
      for (const file of files) {
        for (const info of readHeader(join(dir, file))) tensors.set(info[0], info[1]);
      }
    } else {
      throw new LmError(
        'MODEL_FILE_MISSING',
        `no model.safetensors or model.safetensors.index.json in ${dir}`,
      );
    }
    return new SafetensorsCheckpoint(tensors);
  }

  /** True when the checkpoint holds a tensor of that name. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Reads one tensor and widens it to float32 (F16 and BF16 are exact in float32). */
  read(name: string): FloatTensor {
    const info = this.tensors.get(name);
    if (!info) throw new LmError('MODEL_FILE_INVALID', `tensor ${name} is not in the checkpoint`);
    const bytes = readRange(info.file, info.begin, info.end);
    return { shape: info.shape, data: toFloat32(bytes, info.dtype, name) };
  }
}

function shardFiles(indexPath: string): string[] {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (cause) {
    throw new LmError('MODEL_FILE_INVALID', `${indexPath} is not valid JSON`, { cause });
  }
  const map = (index as { weight_map?: Record<string, string> }).weight_map;
  if (!map || typeof map !== 'object') {
    throw new LmError('MODEL_FILE_INVALID', `${indexPath} has no weight_map object`);
  }
  return [...new Set(Object.values(map))];
}

function readHeader(file: string): [string, TensorInfo][] {
  if (!existsSync(file)) throw new LmError('MODEL_FILE_MISSING', `${file} not found`);
  const fd = openSync(file, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) {
      throw new LmError('MODEL_FILE_INVALID', `${file} is too short to be safetensors`);
    }
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > 100_000_000) {
      throw new LmError('MODEL_FILE_INVALID', `${file}: header length ${headerLen} is implausible`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw new LmError('MODEL_FILE_INVALID', `${file}: safetensors header is not JSON`, { cause });
    }
    const base = 8 + headerLen;
    const out: [string, TensorInfo][] = [];
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const v = value as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      if (
        !v.dtype ||
        !(v.dtype in BYTES_PER_ELEMENT) ||
        !Array.isArray(v.shape) ||
        !Array.isArray(v.data_offsets)
      ) {
        throw new LmError('MODEL_FILE_INVALID', `${file}: tensor ${name} has a malformed entry`);
      }
      const dtype = v.dtype as SafetensorsDtype;
      const count = v.shape.reduce((a, b) => a * b, 1);
      const [begin, end] = v.data_offsets;
      if (end - begin !== count * BYTES_PER_ELEMENT[dtype]) {
        throw new LmError(
          'MODEL_FILE_INVALID',
          `${file}: tensor ${name} has ${end - begin} bytes for shape [${v.shape}] of ${dtype}`,
        );
      }
      out.push([name, { dtype, shape: v.shape, file, begin: base + begin, end: base + end }]);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function readRange(file: string, begin: number, end: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(end - begin);
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, begin + done);
      if (n === 0) throw new LmError('MODEL_FILE_INVALID', `${file} ends before its tensors do`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function toFloat32(bytes: Buffer, dtype: SafetensorsDtype, name: string): Float32Array {
  const n = bytes.length / BYTES_PER_ELEMENT[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    // Little-endian hosts only, as ONNX Runtime's CPU builds are.
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = bytes.readUInt16LE(i * 2) << 16;
  } else if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(i * 8);
  } else {
    throw new LmError('UNSUPPORTED_MODEL', `tensor ${name} has dtype ${dtype}; expected a float`);
  }
  return out;
}

/** Converts an IEEE half-precision bit pattern to a number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A float32 tensor to be written, named as the checkpoint will name it. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Writes float32 tensors as one safetensors file, names sorted, header padded to 8 bytes as the
 * format asks. Used to build test and benchmark checkpoints; the engine writes its own.
 */
export function writeSafetensors(
  file: string,
  tensors: NamedTensor[],
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of sorted) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new LmError(
        'INVALID_REQUEST',
        `tensor ${t.name}: shape [${t.shape}] needs ${count} values, got ${t.data.length}`,
      );
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));

  const fd = openSync(file, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const t of sorted) {
      writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}
