// Locations tests read from: the shared data sets beside the repository, and this folder's files.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (three levels above this file's folder). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A path under the shared data and models folder that sits beside the repository. */
export function shared(...parts: string[]): string {
  return path.resolve(repoRoot, '../shared', ...parts);
}

/** A path under libs/evals/test. */
export function testFile(...parts: string[]): string {
  return path.resolve(repoRoot, 'libs/evals/test', ...parts);
}
