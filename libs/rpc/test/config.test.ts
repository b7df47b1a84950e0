// Environment configuration and path roots: bad values are named, paths stay inside roots.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Code,
  ConfigError,
  env,
  readEnv,
  readServerEnv,
  resolveFolderInside,
  resolveInside,
  type RpcError,
} from '@delta/rpc';

describe('readEnv', () => {
  const spec = {
    port: env.int('DELTA_GRPC_PORT', { default: 50051, min: 0, max: 65535 }),
    roots: env.list('DELTA_MODEL_ROOTS'),
    device: env.string('DELTA_DEVICE', { default: 'cpu', oneOf: ['cpu', 'cuda'] }),
    verbose: env.bool('DELTA_VERBOSE', { default: false }),
    token: env.optionalString('DELTA_TOKEN'),
  };

  it('returns typed values and defaults', () => {
    expect(readEnv(spec, { DELTA_MODEL_ROOTS: ' /models , /data,', DELTA_VERBOSE: 'yes' })).toEqual(
      {
        port: 50051,
        roots: ['/models', '/data'],
        device: 'cpu',
        verbose: true,
        token: undefined,
      },
    );
  });

  it('lists every bad variable in one error', () => {
    let error: ConfigError | undefined;
    try {
      readEnv(spec, { DELTA_GRPC_PORT: '70000', DELTA_DEVICE: 'tpu', DELTA_VERBOSE: 'maybe' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems).toEqual([
      'DELTA_GRPC_PORT: 70000 is above the maximum 65535',
      'DELTA_MODEL_ROOTS: required',
      'DELTA_DEVICE: "tpu" is not one of cpu, cuda',
      'DELTA_VERBOSE: "maybe" is not a boolean (true/false, 1/0, yes/no, on/off)',
    ]);
    expect(error?.message).toContain('invalid configuration:\n  DELTA_GRPC_PORT');
  });

  it('checks the server variables together (TLS needs both files)', () => {
    expect(readServerEnv(50051, {})).toEqual({
      host: '127.0.0.1',
      port: 50051,
      maxMessageBytes: 16 * 1024 * 1024,
      shutdownGraceMs: 10_000,
    });
    expect(() =>
      readServerEnv(50051, { DELTA_TLS_CERT: '/x.crt', DELTA_GRPC_PORT: 'abc' }),
    ).toThrow('DELTA_GRPC_PORT: "abc" is not an integer');
    expect(() => readServerEnv(50051, { DELTA_TLS_CERT: '/x.crt' })).toThrow(
      'DELTA_TLS_KEY: required when DELTA_TLS_CERT is set',
    );
  });
});

describe('resolveInside', () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(path.join(tmpdir(), 'delta-roots-'));
    mkdirSync(path.join(base, 'models', 'tiny'), { recursive: true });
    mkdirSync(path.join(base, 'data'), { recursive: true });
    mkdirSync(path.join(base, 'secret'), { recursive: true });
    writeFileSync(path.join(base, 'data', 'gsm8k.jsonl'), '{}\n');
    writeFileSync(path.join(base, 'secret', 'key'), 'x');
    symlinkSync(path.join(base, 'secret'), path.join(base, 'models', 'escape'));
    symlinkSync(path.join(base, 'models', 'tiny'), path.join(base, 'data', 'tiny-link'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const roots = () => [path.join(base, 'models'), path.join(base, 'data')];

  it('resolves relative paths against each root, the first that has it winning', async () => {
    expect(await resolveInside(roots(), 'tiny')).toBe(path.join(base, 'models', 'tiny'));
    expect(await resolveInside(roots(), 'gsm8k.jsonl')).toBe(
      path.join(base, 'data', 'gsm8k.jsonl'),
    );
    expect(await resolveInside(roots(), 'tiny-link')).toBe(path.join(base, 'models', 'tiny'));
  });

  it('accepts an absolute path inside a root and a new output path under one', async () => {
    const inside = path.join(base, 'data', 'gsm8k.jsonl');
    expect(await resolveInside(roots(), inside)).toBe(inside);
    expect(await resolveInside(roots(), 'runs/r1/out.jsonl')).toBe(
      path.join(base, 'models', 'runs', 'r1', 'out.jsonl'),
    );
  });

  it('refuses .., absolute paths outside the roots and symlinks that leave them', async () => {
    for (const bad of [
      '../secret/key',
      path.join(base, 'secret', 'key'),
      'escape/key',
      '/etc/passwd',
    ]) {
      const error = (await resolveInside(roots(), bad, 'spec.model').catch((e) => e)) as RpcError;
      expect(error.code, bad).toBe(Code.PERMISSION_DENIED);
      expect(error.message.startsWith(`spec.model: "${bad}" `), error.message).toBe(true);
      expect(error.message).toContain('outside the allowed roots');
    }
    // A link is named with the real path it leads to.
    await expect(resolveInside(roots(), 'escape/key', 'spec.model')).rejects.toThrow(
      `spec.model: "escape/key" resolves to "${path.join(base, 'secret', 'key')}", outside`);
  });

  it('refuses a folder whose files link outside the roots, and accepts links inside', async () => {
    const folder = path.join(base, 'models', 'linked');
    mkdirSync(path.join(folder, 'onnx'), { recursive: true });
    writeFileSync(path.join(folder, 'tokenizer.json'), '{}');
    symlinkSync(path.join(folder, 'tokenizer.json'), path.join(folder, 'onnx', 'ok.json'));
    symlinkSync(path.join(base, 'nowhere'), path.join(folder, 'dangling'));
    expect(await resolveFolderInside(roots(), 'linked', 'spec.model')).toBe(folder);

    // A folder that is not there (yet) is the caller's to report.
    expect(await resolveFolderInside(roots(), 'absent', 'spec.model'))
      .toBe(path.join(base, 'models', 'absent'));

    symlinkSync(path.join(base, 'secret', 'key'), path.join(folder, 'onnx', 'model.onnx'));
    await expect(resolveFolderInside(roots(), 'linked', 'spec.model')).rejects.toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: `spec.model: "onnx/model.onnx" in "linked" links to ` +
        `"${path.join(base, 'secret', 'key')}", outside the allowed roots (${roots().join(', ')})`,
    });
  });

  it('refuses an empty path as INVALID_ARGUMENT and any path when no roots are set', async () => {
    await expect(resolveInside(roots(), '', 'spec.data_file')).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.data_file: required',
    });
    await expect(resolveInside([], 'tiny')).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
  });
});
