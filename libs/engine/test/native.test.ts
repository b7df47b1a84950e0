// Runs the C++ test program (native/test/native_test.cpp): finite-difference checks in double
// precision of every op's backward and of the whole model under each loss, ln 2 at step one,
// and zero heap allocations in steady-state steps.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { engineRoot } from './helpers.js';

it('passes every native gradient, loss and allocation check', () => {
  const run = spawnSync(path.join(engineRoot, 'build/engine_native_test'), { encoding: 'utf8' });
  expect(run.error).toBeUndefined();
  const failures = run.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
  expect(failures).toEqual([]);
  expect(run.stdout).toMatch(/^(\d+) passed, 0 failed$/m);
  expect(Number(/^(\d+) passed/m.exec(run.stdout)![1])).toBeGreaterThanOrEqual(18);
  expect(run.status).toBe(0);
});
