// Fails when libs/contracts/src/gen no longer matches proto/: run `npm run gen` and commit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const committed = join(root, 'libs/contracts/src/gen/delta/v1');
const scratch = mkdtempSync(join(tmpdir(), 'delta-gen-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('generated contracts', () => {
  it('are up to date with proto/ and lint clean', () => {
    const bin = join(root, 'node_modules/.bin');
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    execFileSync(join(bin, 'buf'), ['lint'], { cwd: join(root, 'proto'), env });
    execFileSync(join(bin, 'buf'), ['generate', '-o', scratch], { cwd: root, env });

    const fresh = join(scratch, 'libs/contracts/src/gen/delta/v1');
    const names = readdirSync(committed).sort();
    expect(readdirSync(fresh).sort()).toEqual(names);
    for (const name of names) {
      const same = readFileSync(join(fresh, name), 'utf8') === readFileSync(join(committed, name), 'utf8');
      expect(same, `${name} is stale: run \`npm run gen\` and commit the result`).toBe(true);
    }
  });
});
