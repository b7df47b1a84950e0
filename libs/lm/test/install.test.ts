// CASES 20: installing the inference runtime downloads nothing. onnxruntime-node's install script
// (which fetches CUDA libraries) is denied in the root package.json, no provider library it
// would fetch is on disk, and the CPU build that ships in the package runs.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaProviderInstalled } from '../src/index.js';
import { REPO_ROOT } from './helpers.js';

const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve('onnxruntime-node/package.json'));

describe('onnxruntime-node install (CASES 20)', () => {
  it('is denied its install script in the root package.json', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      allowScripts?: Record<string, boolean>;
    };
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false);
    const ortPkg = JSON.parse(readFileSync(join(ortDir, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(ortPkg.scripts['postinstall']).toBe('node ./script/install');
  });

  it('leaves no install script unreviewed', () => {
    const out = execFileSync('npm', ['install-scripts', 'ls'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(out).not.toMatch(/onnxruntime-node/);
  });

  it('has only the bundled CPU libraries on disk', () => {
    const bin = join(ortDir, 'bin', 'napi-v6', process.platform, process.arch);
    const files = readdirSync(bin);
    expect(files).toContain('onnxruntime_binding.node');
    expect(
      files.filter((f) => f.includes('providers_cuda') || f.includes('providers_tensorrt')),
    ).toEqual([]);
    expect(existsSync(join(bin, 'libonnxruntime_providers_cuda.so'))).toBe(false);
    expect(cudaProviderInstalled()).toBe(false);
  });
});
