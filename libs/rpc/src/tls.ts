// TLS and mutual TLS credentials from PEM files, for servers and clients. Files are read once
// at start; a missing or unreadable file is a ConfigError naming it.
import { readFileSync } from 'node:fs';
import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError } from './config.js';

/** PEM files for a server: its certificate and key, and a CA that client certificates need. */
export interface ServerTls {
  certFile: string;
  keyFile: string;
  /** With a client CA, clients must present a certificate it signed (mutual TLS). */
  clientCaFile?: string;
}

/** PEM files for a client: the CA to trust, and its own certificate for mutual TLS. */
export interface ClientTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Name expected in the server's certificate, when it differs from the address host. */
  serverName?: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError([
      `${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`,
    ]);
  }
}

/** Server credentials: insecure without TLS files, TLS with them, mutual TLS with a client CA. */
export function serverCredentials(tls?: ServerTls): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const ca = tls.clientCaFile ? read(tls.clientCaFile, 'TLS client CA') : null;
  return ServerCredentials.createSsl(
    ca,
    [
      {
        cert_chain: read(tls.certFile, 'TLS certificate'),
        private_key: read(tls.keyFile, 'TLS key'),
      },
    ],
    ca !== null,
  );
}

/** Client credentials: insecure without TLS options, else TLS (mutual with cert and key). */
export function channelCredentials(tls?: ClientTls): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(
    tls.caFile ? read(tls.caFile, 'TLS CA') : null,
    tls.keyFile ? read(tls.keyFile, 'TLS client key') : null,
    tls.certFile ? read(tls.certFile, 'TLS client certificate') : null,
  );
}
