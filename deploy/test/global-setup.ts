// Builds the pinned kustomize before any test file runs, so test files never race to build it.
import { ensureKustomize, KUSTOMIZE_VERSION } from './support/kustomize.js';

export default function setup(): void {
  const { builtSeconds } = ensureKustomize();
  if (builtSeconds !== undefined) {
    process.stderr.write(`deploy: built kustomize ${KUSTOMIZE_VERSION} in ${builtSeconds.toFixed(0)} s\n`);
  }
}
