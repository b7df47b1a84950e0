// Finds the services a run talks to: addresses from flags or DELTA_<SERVICE>_ADDR (a remote
// cluster, never replaced), else the local stack's record, else the default ports; and starts
// the local stack when nothing answers. close() leaves the stack as it was found.
import path from 'node:path';
import type { ClientTls } from '@delta/rpc';
import { createStream, type TopicSpec } from '@delta/stream';

import { RunError } from '../errors.js';
import {
  clientTls, healthOf, openClients, resolveAddresses, SERVICE_NAMES,
  type Addresses, type Clients, type ServiceName,
} from '../services.js';
import {
  readStackRecord, stackAddresses, stackDown, stackUp, type StackRecord,
} from '../stack/stack.js';

/** How to find or start the services. */
export interface SessionOptions {
  flags: Partial<Record<ServiceName, string | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
  stackDir: string;
  /** A broker for a stack this session starts (else the stack starts its own). */
  brokers?: string;
  /** Folders the services must be able to open for this run. */
  roots: string[];
  /** Addresses a run used before, when they were a remote cluster's. */
  remembered?: Addresses;
  /** Leave a stack this session started running at close(). */
  keepStack: boolean;
  log: (line: string) => void;
}

/** Connected services. */
export interface Session {
  addresses: Addresses;
  /** True when the addresses were given, not those of a local stack. */
  remote: boolean;
  clients: Clients;
  tls?: ClientTls;
  /** The local stack in use, and whether this session started it. */
  stack?: { dir: string; startedByRun: boolean };
  /** Creates topics on the local stack's broker; absent for a remote cluster. */
  ensureTopics?: (topics: string[]) => Promise<void>;
  /** Closes the clients and stops a stack this session started (unless kept). */
  close(): Promise<void>;
}

/** Connects to running services, or brings the local stack up and connects to it. */
export async function openSession(options: SessionOptions): Promise<Session> {
  const tls = clientTls(options.env);
  let record = readStackRecord(options.stackDir);
  const resolved = resolveAddresses(options.flags, options.env,
    options.remembered ?? (record ? stackAddresses(record) : undefined));
  const explicit = resolved.explicit || Boolean(options.remembered);
  const health = await healthOf(resolved.addresses, tls);
  const down = SERVICE_NAMES.filter((n) => health[n] !== 'SERVING');
  const usesRecord = record && !explicit;
  // Services answering on the default ports without this folder's stack record were started
  // by someone else (another checkout's stack): their roots are not this run's, so this run
  // starts a stack of its own beside them (stackUp takes free ports).
  const foreign = !record && !explicit && down.length === 0;
  if (foreign) {
    options.log(`services answer on ${SERVICE_NAMES.map((n) => resolved.addresses[n]).join(', ')} ` +
      `but ${options.stackDir} records no stack: they are another stack's; starting this ` +
      'folder\'s own (give --generator ... or DELTA_*_ADDR to use them instead)');
  }

  let startedByRun = false;
  if (down.length === 0 && !foreign) {
    if (usesRecord) checkRoots(record!, options.roots, options.stackDir);
  } else if (explicit) {
    throw new RunError('UNAVAILABLE', `not serving: ${down.map((n) =>
      `${n} at ${resolved.addresses[n]} (${health[n]})`).join('; ')}. Start them, or unset the ` +
      'addresses (--generator ..., DELTA_*_ADDR) to use a local stack');
  } else {
    if (!foreign) {
      options.log(`no services answer at ${down.map((n) => resolved.addresses[n]).join(', ')}; ` +
        'starting a local stack');
    }
    record = await stackUp({
      dir: options.stackDir, roots: options.roots, log: options.log,
      ...(options.brokers ? { brokers: options.brokers } : {}),
    });
    startedByRun = true;
  }

  const addresses = record && !explicit ? stackAddresses(record) : resolved.addresses;
  const clients = openClients(addresses, tls);
  const local = record && !explicit ? record : undefined;
  return {
    addresses, remote: explicit, clients, ...(tls ? { tls } : {}),
    ...(local ? {
      stack: { dir: local.dir, startedByRun },
      ensureTopics: (topics: string[]) => ensureTopics(local.broker.brokers, topics),
    } : {}),
    close: async () => {
      clients.close();
      if (startedByRun && !options.keepStack) {
        options.log('stopping the local stack this run started (--keep-stack keeps it)');
        await stackDown(options.stackDir, { log: options.log });
      }
    },
  };
}

/** A running stack that cannot open a folder of this run would refuse its jobs: say so now. */
function checkRoots(record: StackRecord, roots: string[], dir: string): void {
  const missing = roots.map((r) => path.resolve(r)).filter((r) => !record.roots.some((have) => {
    const rel = path.relative(have, r);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  }));
  if (missing.length === 0) return;
  throw new RunError('STACK', `the local stack in ${dir} may not open ${missing.join(', ')} ` +
    `(its roots: ${record.roots.join(', ')}); bring it down (delta stack down) and let the run ` +
    `start one, or start it with ${missing.map((m) => `--root ${m}`).join(' ')}`);
}

async function ensureTopics(brokers: string, topics: string[]): Promise<void> {
  const stream = createStream({ brokers, clientId: 'delta-cli' });
  const admin = stream.admin();
  try {
    await admin.ensureTopics(topics.map((topic): TopicSpec => ({ topic, partitions: 1 })));
  } catch (err) {
    throw new RunError('STACK', `cannot create ${topics.join(', ')} on ${brokers}: ` +
      `${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
