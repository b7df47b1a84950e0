// TLS and mutual TLS with certificates made by openssl for the test (a CA, a server certificate
// for 127.0.0.1 and a client certificate).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeneratorService } from '@delta/contracts';
import { ConfigError, Code, createClient, createServer, implement } from '@delta/rpc';

let dir: string;
const file = (name: string) => path.join(dir, name);

function openssl(...args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function issue(name: string, subject: string, ext: string) {
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    subject,
    '-out',
    `${name}.csr`,
  );
  writeFileSync(file(`${name}.ext`), ext);
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  );
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'delta-tls-'));
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=delta-test-ca',
  );
  issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  issue('client', '/CN=delta-cli', 'extendedKeyUsage=clientAuth\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const generator = implement(GeneratorService, {
  async startGeneration() {
    return { jobId: 'over-tls' };
  },
  async *watchGeneration() {},
  async getGeneration() {
    return {};
  },
  async cancelGeneration() {
    return {};
  },
});

describe('TLS', () => {
  it('serves over TLS to a client that trusts the CA, and not to a plaintext client', async () => {
    const server = await createServer({
      services: [generator],
      tls: { certFile: file('server.crt'), keyFile: file('server.key') },
    });
    const secure = createClient(GeneratorService, server.address, {
      tls: { caFile: file('ca.crt') },
    });
    expect((await secure.startGeneration({})).jobId).toBe('over-tls');
    const plain = createClient(GeneratorService, server.address, { defaultDeadlineMs: 2_000 });
    expect(await plain.startGeneration({}).catch((e) => e.code)).toBeOneOf([
      Code.UNAVAILABLE,
      Code.DEADLINE_EXCEEDED,
    ]);
    secure.close();
    plain.close();
    await server.shutdown();
  });

  it('requires a client certificate signed by the client CA under mutual TLS', async () => {
    const server = await createServer({
      services: [generator],
      tls: {
        certFile: file('server.crt'),
        keyFile: file('server.key'),
        clientCaFile: file('ca.crt'),
      },
    });
    const withCert = createClient(GeneratorService, server.address, {
      tls: { caFile: file('ca.crt'), certFile: file('client.crt'), keyFile: file('client.key') },
    });
    expect((await withCert.startGeneration({})).jobId).toBe('over-tls');
    const without = createClient(GeneratorService, server.address, {
      tls: { caFile: file('ca.crt') },
      defaultDeadlineMs: 2_000,
    });
    expect(await without.startGeneration({}).catch((e) => e.code)).toBeOneOf([
      Code.UNAVAILABLE,
      Code.DEADLINE_EXCEEDED,
    ]);
    withCert.close();
    without.close();
    await server.shutdown();
  });

  it('names a certificate file it cannot read', async () => {
    const error = await createServer({
      services: [generator],
      tls: { certFile: file('missing.crt'), keyFile: file('server.key') },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toBe(
      `TLS certificate: cannot read ${file('missing.crt')} (ENOENT)`,
    );
  });
});
