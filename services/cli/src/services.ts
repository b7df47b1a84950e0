// The four services the CLI drives: their names, default ports, where to reach them (flags,
// environment, the local stack's record) and typed clients. It starts nothing; stack/ does.
import {
  EvaluatorService, GeneratorService, PairerService, TrainerService,
} from '@delta/contracts';
import { checkHealth, createClient, readClientTlsEnv, type Client, type ClientTls } from '@delta/rpc';

/** The services of a pipeline, in the order a run uses them. */
export const SERVICE_NAMES = ['generator', 'pairer', 'trainer', 'evaluator'] as const;

/** One of the four services. */
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Ports the services listen on by default (DELTA_GRPC_PORT of each). */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  generator: 50051, pairer: 50052, trainer: 50053, evaluator: 50054,
};

/** host:port of every service. */
export type Addresses = Record<ServiceName, string>;

/** The environment variable that names a service's address ("DELTA_GENERATOR_ADDR"). */
export function addressVariable(name: ServiceName): string {
  return `DELTA_${name.toUpperCase()}_ADDR`;
}

/** Where the addresses came from: a remote cluster is never replaced by a local stack. */
export interface ResolvedAddresses {
  addresses: Addresses;
  /** True when a flag or variable named at least one address. */
  explicit: boolean;
}

/**
 * Addresses from `--<service> host:port` flags first, then DELTA_<SERVICE>_ADDR, then
 * `fallback` (the local stack's record), then 127.0.0.1 on the default ports.
 */
export function resolveAddresses(
  flags: Partial<Record<ServiceName, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  fallback?: Partial<Addresses>,
): ResolvedAddresses {
  let explicit = false;
  const addresses = {} as Addresses;
  for (const name of SERVICE_NAMES) {
    const given = flags[name] || env[addressVariable(name)];
    if (given) explicit = true;
    addresses[name] = given || fallback?.[name] || `127.0.0.1:${DEFAULT_PORTS[name]}`;
  }
  return { addresses, explicit };
}

/** Client TLS from DELTA_TLS_CA / DELTA_TLS_CLIENT_CERT / DELTA_TLS_CLIENT_KEY, if set. */
export function clientTls(env: Readonly<Record<string, string | undefined>>): ClientTls | undefined {
  return readClientTlsEnv(env);
}

/** Typed clients of the four services; close() closes every channel. */
export interface Clients {
  generator: Client<typeof GeneratorService>;
  pairer: Client<typeof PairerService>;
  trainer: Client<typeof TrainerService>;
  evaluator: Client<typeof EvaluatorService>;
  close(): void;
}

/** Opens (lazily connecting) clients for every service. */
export function openClients(addresses: Addresses, tls?: ClientTls): Clients {
  const options = tls ? { tls } : {};
  const clients = {
    generator: createClient(GeneratorService, addresses.generator, options),
    pairer: createClient(PairerService, addresses.pairer, options),
    trainer: createClient(TrainerService, addresses.trainer, options),
    evaluator: createClient(EvaluatorService, addresses.evaluator, options),
  };
  return { ...clients, close: () => Object.values(clients).forEach((c) => c.close()) };
}

/** What each service's health check answered; an error's message when it did not answer. */
export async function healthOf(
  addresses: Addresses,
  tls?: ClientTls,
  timeoutMs = 2_000,
): Promise<Record<ServiceName, string>> {
  const entries = await Promise.all(SERVICE_NAMES.map(async (name) => {
    try {
      return [name, await checkHealth(addresses[name], '', { ...(tls ? { tls } : {}), timeoutMs })];
    } catch (err) {
      return [name, `unreachable (${(err as Error).message})`];
    }
  }));
  return Object.fromEntries(entries) as Record<ServiceName, string>;
}
