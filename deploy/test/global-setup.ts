// Builds the pinned kustomize before any test file runs, so test files never race to build it.
import { ensureKustomize, KUSTOMIZE_VERSION } from './support/kustomize.js';

export default function setup(): void {
  const { builtSeconds } = ensureKustomize();
  if (builtSeconds !== undefined) {
    const seconds = builtSeconds.toFixed(0);
    process.stderr.write(`deploy: built kustomize ${KUSTOMIZE_VERSION} in ${seconds} s\n`);
  }
}
