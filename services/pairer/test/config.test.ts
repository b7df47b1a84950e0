// The pairer's settings: every variable it reads is declared (and documented in the README),
// and the process refuses bad ones with exit code 2, naming each.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jobServiceEnvSpec } from '@delta/service';
import { describe, expect, it } from 'vitest';
import { PAIRER_PORT, pairerEnvSpec, readPairerConfig } from '../src/index.js';
import { repoRoot } from './helpers.js';

describe('configuration', () => {
  it('declares its variables, each documented in the README', () => {
    const names = Object.values(pairerEnvSpec).map((v) => v.name);
    expect(names.every((n) => n.startsWith('DELTA_PAIRER_'))).toBe(true);
    const readme = readFileSync(path.join(repoRoot, 'services/pairer/README.md'), 'utf8');
    for (const name of [...names, ...Object.values(jobServiceEnvSpec('pairer', PAIRER_PORT))
      .map((v) => v.name)]) {
      expect(readme, name).toContain(`\`${name}\``);
    }
    expect(readPairerConfig({}).stateTopicPrefix).toBe('delta.pairer.state');
  });

  it('exits 2 on bad variables, naming each', () => {
    const main = path.join(repoRoot, 'services/pairer/dist/main.js');
    expect(existsSync(main)).toBe(true);
    const run = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, DELTA_PAIRER_MAX_PENDING: 'many',
        DELTA_PAIRER_SESSION_TIMEOUT_MS: '10' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('DELTA_PAIRER_MAX_PENDING: "many" is not an integer');
    expect(run.stderr).toContain('DELTA_PAIRER_SESSION_TIMEOUT_MS: 10 is below the minimum 6000');
  });
});
