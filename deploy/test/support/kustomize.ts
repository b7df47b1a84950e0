// The kustomize binary the manifests are rendered with: the pinned release built from the Go
// module proxy into .cache/kustomize/<version>/ the first time (about 3 minutes on a 2-core
// machine with an empty Go module cache), then reused. It needs `go` on PATH for that build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's place in deploy/test/support. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The kustomize release the manifests are written for (its module declares go 1.26). */
export const KUSTOMIZE_VERSION = 'v5.8.2';

const cacheDir = path.join(repoRoot, '.cache', 'kustomize', KUSTOMIZE_VERSION);

/** Where the binary is: $DELTA_KUSTOMIZE when set, else the cached build. */
export function kustomizePath(): string {
  return process.env.DELTA_KUSTOMIZE || path.join(cacheDir, 'kustomize');
}

/** Builds the pinned kustomize unless it is there; returns its path and the seconds it took. */
export function ensureKustomize(): { file: string; builtSeconds?: number } {
  const file = kustomizePath();
  if (existsSync(file)) return { file };

  const started = Date.now();
  mkdirSync(path.dirname(cacheDir), { recursive: true });
  const staging = mkdtempSync(path.join(path.dirname(cacheDir), 'building-'));
  const result = spawnSync(
    'go', ['install', `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`],
    {
      encoding: 'utf8',
      env: { ...process.env, GOBIN: staging, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    },
  );
  if (result.error || result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    const why = result.error ? result.error.message : result.stderr.trim().split('\n').slice(-5);
    throw new Error(
      `could not build kustomize ${KUSTOMIZE_VERSION} with \`go install\` (Go 1.26 or newer ` +
        `on PATH is needed, or set DELTA_KUSTOMIZE to a kustomize binary): ${String(why)}`,
    );
  }
  rmSync(cacheDir, { recursive: true, force: true });
  renameSync(staging, cacheDir);
  return { file, builtSeconds: (Date.now() - started) / 1000 };
}

/** Renders a kustomization folder (relative to the repository root) to YAML text. */
export function kustomizeBuild(dir: string): string {
  const result = spawnSync(kustomizePath(), ['build', path.resolve(repoRoot, dir)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`kustomize could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kustomize build ${dir} failed: ${result.stderr}`);
  return result.stdout;
}
