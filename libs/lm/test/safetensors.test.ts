// safetensors reading and writing: round trip, half-precision widening, sharded checkpoints and
// malformed headers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsCheckpoint, halfToFloat, writeSafetensors } from '../src/index.js';
import { tempDir } from './helpers.js';

function rawFile(file: string, header: Record<string, unknown>, data: Uint8Array): void {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), data]));
}

describe('safetensors', () => {
  it('round-trips float32 tensors', () => {
    const dir = tempDir('st');
    writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'b', shape: [2, 2], data: Float32Array.of(1, -2, 3.5, 1e-8) },
      { name: 'a', shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) },
    ]);
    const ckpt = SafetensorsCheckpoint.open(dir);
    expect([...ckpt.tensors.keys()].sort()).toEqual(['a', 'b']);
    expect(ckpt.read('b')).toEqual({ shape: [2, 2], data: Float32Array.of(1, -2, 3.5, 1e-8) });
    expect(ckpt.read('a').data).toEqual(Float32Array.of(0.1, 0.2, 0.3));
  });

  it('widens BF16 and F16 exactly and reads sharded checkpoints', () => {
    const dir = tempDir('shards');
    // bf16 0x3fc0 = 1.5, 0xc000 = -2; f16 0x3c00 = 1, 0xc100 = -2.5, 0x0001 = 2^-24.
    rawFile(
      join(dir, 'part-1.safetensors'),
      { w: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } },
      Uint8Array.from([0xc0, 0x3f, 0x00, 0xc0]),
    );
    rawFile(
      join(dir, 'part-2.safetensors'),
      { h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } },
      Uint8Array.from([0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00]),
    );
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { w: 'part-1.safetensors', h: 'part-2.safetensors' } }),
    );
    const ckpt = SafetensorsCheckpoint.open(dir);
    expect(Array.from(ckpt.read('w').data)).toEqual([1.5, -2]);
    expect(Array.from(ckpt.read('h').data)).toEqual([1, -2.5, 2 ** -24]);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
  });

  it('rejects a header whose byte range does not fit the shape, naming the tensor', () => {
    const dir = tempDir('bad');
    rawFile(
      join(dir, 'model.safetensors'),
      { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    expect(() => SafetensorsCheckpoint.open(dir)).toThrow(
      /tensor w has 8 bytes for shape \[3\] of F32/,
    );
  });
});
