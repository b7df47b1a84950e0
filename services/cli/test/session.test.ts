// Finding the services: given addresses (flags, then DELTA_<SERVICE>_ADDR) are a remote
// cluster that is never replaced by a local stack; without them the stack's record, then the
// default ports.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { RunError } from '../src/errors.js';
import { openSession } from '../src/run/session.js';
import { resolveAddresses } from '../src/services.js';
import { portFor } from '../src/stack/processes.js';

describe('service addresses', () => {
  it('come from flags, then the environment, then the stack, then the default ports', () => {
    const resolved = resolveAddresses({ trainer: 'gpu-box:7000' },
      { DELTA_TRAINER_ADDR: 'ignored:1', DELTA_PAIRER_ADDR: 'pairer.svc:50052' },
      { generator: '127.0.0.1:41000', pairer: '127.0.0.1:41001' });
    expect(resolved).toEqual({ explicit: true, addresses: { generator: '127.0.0.1:41000',
      pairer: 'pairer.svc:50052', trainer: 'gpu-box:7000', evaluator: '127.0.0.1:50054' } });
    expect(resolveAddresses({}, {}).explicit).toBe(false);
  });

  it('that were given and do not answer fail the run instead of starting a stack', async () => {
    const closed = await portFor(0);
    const stackDir = mkdtempSync(path.join(tmpdir(), 'delta-cli-session-'));
    try {
      const opened = openSession({
        flags: { generator: `127.0.0.1:${closed}` }, env: {}, stackDir, roots: [],
        keepStack: false, log: () => {},
      });
      await expect(opened).rejects.toBeInstanceOf(RunError);
      await expect(opened).rejects.toMatchObject({ code: 'UNAVAILABLE',
        message: expect.stringMatching(new RegExp(`^not serving: generator at 127\\.0\\.0\\.1:` +
          `${closed} \\(unreachable`, 'u')) as unknown });
    } finally {
      rmSync(stackDir, { recursive: true, force: true });
    }
  });
});
