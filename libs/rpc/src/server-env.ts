// The environment variables every Delta gRPC server reads, declared once so each service
// validates them the same way (and can add its own to the same spec).
import { ConfigError, env, readEnv } from './config.js';
import type { ClientTls, ServerTls } from './tls.js';

/** Declared server variables; spread into a service's own spec to validate all in one go. */
export function serverEnvSpec(defaultPort: number) {
  return {
    host: env.string('DELTA_GRPC_HOST', {
      default: '127.0.0.1',
      doc: 'address to listen on; 0.0.0.0 in a container',
    }),
    port: env.int('DELTA_GRPC_PORT', {
      default: defaultPort,
      min: 0,
      max: 65535,
      doc: 'port to listen on; 0 picks a free one',
    }),
    tlsCert: env.optionalString('DELTA_TLS_CERT', { doc: 'server certificate (PEM) for TLS' }),
    tlsKey: env.optionalString('DELTA_TLS_KEY', { doc: 'server private key (PEM) for TLS' }),
    tlsClientCa: env.optionalString('DELTA_TLS_CLIENT_CA', {
      doc: 'CA (PEM) that client certificates must chain to: turns on mutual TLS',
    }),
    maxMessageBytes: env.int('DELTA_GRPC_MAX_MESSAGE_BYTES', {
      default: 16 * 1024 * 1024,
      min: 1024,
      doc: 'largest request or response message',
    }),
    shutdownGraceMs: env.int('DELTA_SHUTDOWN_GRACE_MS', {
      default: 10_000,
      min: 0,
      doc: 'how long in-flight calls may run after SIGTERM',
    }),
  };
}

/** What a server needs from the environment, checked. */
export interface ServerEnv {
  host: string;
  port: number;
  tls?: ServerTls;
  maxMessageBytes: number;
  shutdownGraceMs: number;
}

/** Reads and checks the server variables; throws one ConfigError listing every problem. */
export function readServerEnv(
  defaultPort: number,
  source: Record<string, string | undefined> = process.env,
): ServerEnv {
  const values = readEnv(serverEnvSpec(defaultPort), source);
  return serverEnvFrom(values);
}

/** Turns values read with serverEnvSpec (maybe among others) into ServerEnv, checking TLS. */
export function serverEnvFrom(values: {
  host: string;
  port: number;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsClientCa?: string | undefined;
  maxMessageBytes: number;
  shutdownGraceMs: number;
}): ServerEnv {
  const problems: string[] = [];
  if (values.tlsCert && !values.tlsKey)
    problems.push('DELTA_TLS_KEY: required when DELTA_TLS_CERT is set');
  if (values.tlsKey && !values.tlsCert)
    problems.push('DELTA_TLS_CERT: required when DELTA_TLS_KEY is set');
  if (values.tlsClientCa && !values.tlsCert) {
    problems.push(
      'DELTA_TLS_CERT: required when DELTA_TLS_CLIENT_CA is set (mutual TLS needs TLS)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const tls =
    values.tlsCert && values.tlsKey
      ? {
          certFile: values.tlsCert,
          keyFile: values.tlsKey,
          ...(values.tlsClientCa ? { clientCaFile: values.tlsClientCa } : {}),
        }
      : undefined;
  return {
    host: values.host,
    port: values.port,
    ...(tls ? { tls } : {}),
    maxMessageBytes: values.maxMessageBytes,
    shutdownGraceMs: values.shutdownGraceMs,
  };
}

/** Client TLS from DELTA_TLS_CA, DELTA_TLS_CLIENT_CERT and DELTA_TLS_CLIENT_KEY; none if unset. */
export function readClientTlsEnv(
  source: Record<string, string | undefined> = process.env,
): ClientTls | undefined {
  const values = readEnv(
    {
      caFile: env.optionalString('DELTA_TLS_CA', {
        doc: 'CA (PEM) that server certificates chain to',
      }),
      certFile: env.optionalString('DELTA_TLS_CLIENT_CERT', { doc: 'client certificate for mTLS' }),
      keyFile: env.optionalString('DELTA_TLS_CLIENT_KEY', { doc: 'client private key for mTLS' }),
    },
    source,
  );
  if (Boolean(values.certFile) !== Boolean(values.keyFile)) {
    throw new ConfigError(['DELTA_TLS_CLIENT_CERT and DELTA_TLS_CLIENT_KEY: set both or neither']);
  }
  if (!values.caFile && !values.certFile) return undefined;
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v)) as ClientTls;
}
