// Temporary folders for tests, removed after each test file; and the repository root.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../../..');

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the system temp dir, removed after the test file. */
export function scratch(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `delta-trainer-${prefix}-`));
  made.push(dir);
  return dir;
}
