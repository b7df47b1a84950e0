// The local stack of one machine: a Kafka broker (tools/kafka) and the four services as
// background processes, recorded in <stack dir>/stack.json with their pids, ports, roots and
// log files. `up` starts what is missing and waits until every service reports SERVING and the
// topics exist; `down` stops them in reverse order. It is not a deployment: see deploy/.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkHealth, waitForServing } from '@delta/rpc';
import { createStream, defaultTopicSpecs, type TopicSpec } from '@delta/stream';

import { RunError } from '../errors.js';
import { DEFAULT_PORTS, SERVICE_NAMES, type Addresses, type ServiceName } from '../services.js';
import {
  isAlive, logTail, portFor, sleep, startDetached, stopProcess,
} from './processes.js';

/** The repository the CLI runs from: services/cli/{src,dist}/stack/ is four levels down. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** One service process of the stack. */
export interface ServiceRecord {
  pid: number;
  address: string;
  log: string;
  instanceId: string;
  /** The script it runs; also how a recorded pid is recognised as ours. */
  main: string;
}

/** stack.json. */
export interface StackRecord {
  version: 1;
  dir: string;
  startedAt: string;
  /** Folders the services may read models and data from and write outputs to. */
  roots: string[];
  broker: {
    brokers: string;
    /** A broker this stack did not start (DELTA_KAFKA_BROKERS, --brokers): never stopped. */
    external: boolean;
    pid?: number;
    dataDir?: string;
    logFile?: string;
  };
  jobsTopic: string;
  services: Record<ServiceName, ServiceRecord>;
}

/** How to bring a stack up. */
export interface StackOptions {
  dir: string;
  /** Folders every service may open (models, data, outputs); the stack folder is added. */
  roots: string[];
  /** Use this broker instead of starting one. */
  brokers?: string;
  /** Extra topics to create beside the default ones (a pipeline's responses topic). */
  topics?: string[];
  /** Variables passed to every service (DELTA_TRAINER_THREADS, DELTA_JOBS_TOPIC, ...). */
  env?: Record<string, string | undefined>;
  /** Progress lines for a person. */
  log?: (line: string) => void;
  /** Longest wait for a component to become ready. Default 120 s. */
  timeoutMs?: number;
}

const BROKER_MARKER = 'kafka.Kafka';
const RECORD = 'stack.json';
const PORTS = 'ports.json';

/** The stack folder: --stack-dir, else DELTA_STACK_DIR, else .delta/stack in the working folder. */
export function stackDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd()): string {
  return path.resolve(cwd, flag || env.DELTA_STACK_DIR || path.join('.delta', 'stack'));
}

/** The stack's record, or undefined when it was never brought up (or was brought down). */
export function readStackRecord(dir: string): StackRecord | undefined {
  const file = path.join(dir, RECORD);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackRecord;
  } catch (err) {
    throw new RunError('STACK', `cannot read ${file}: ${(err as Error).message}; remove it ` +
      'after stopping what it started', { cause: err });
  }
}

/** The services' addresses in a record. */
export function stackAddresses(record: StackRecord): Addresses {
  return Object.fromEntries(SERVICE_NAMES.map((n) => [n, record.services[n].address])) as Addresses;
}

/** One component's state, as `delta stack status` prints it. */
export interface ComponentStatus {
  name: string;
  pid?: number;
  address: string;
  health: string;
  healthy: boolean;
  log?: string;
}

/** The health of each component of a recorded stack. */
export async function stackStatus(record: StackRecord): Promise<ComponentStatus[]> {
  const broker = record.broker;
  const brokerAlive = broker.external || isAlive(broker.pid, BROKER_MARKER);
  const out: ComponentStatus[] = [{
    name: 'kafka', ...(broker.pid ? { pid: broker.pid } : {}), address: broker.brokers,
    health: broker.external ? 'external' : brokerAlive ? 'running' : 'not running',
    healthy: brokerAlive, ...(broker.logFile ? { log: broker.logFile } : {}),
  }];
  const services = await Promise.all(SERVICE_NAMES.map(async (name) => {
    const s = record.services[name];
    if (!isAlive(s.pid, s.main)) {
      return { name, pid: s.pid, address: s.address, health: 'not running', healthy: false,
        log: s.log };
    }
    const health = await checkHealth(s.address, '', { timeoutMs: 2_000 })
      .catch((err: Error) => `unreachable (${err.message})`);
    return { name, pid: s.pid, address: s.address, health, healthy: health === 'SERVING', log: s.log };
  }));
  return [...out, ...services];
}

/**
 * Brings the stack up. A healthy stack whose roots cover `roots` is left as it is; when only
 * services are down they start again alone; a stack whose broker is down, or which cannot
 * open a needed folder, is brought down first and started whole.
 */
export async function stackUp(options: StackOptions): Promise<StackRecord> {
  const log = options.log ?? (() => {});
  const dir = path.resolve(options.dir);
  const roots = [...new Set([dir, ...options.roots.map((r) => path.resolve(r))])];
  const existing = readStackRecord(dir);
  if (existing) {
    const missing = roots.filter((r) => !existing.roots.some((have) => inside(have, r)));
    const status = missing.length === 0 ? await stackStatus(existing) : [];
    if (status[0]?.healthy) {
      // The broker is up: only the services that are down start again, on their old ports,
      // so the jobs of the others go on and runs find every service where they left it.
      const down = SERVICE_NAMES.filter((n) => !status.find((c) => c.name === n)?.healthy);
      if (down.length === 0) {
        log(`stack: already up (${dir})`);
      } else {
        log(`stack: restarting ${down.join(', ')}; the broker and the other services stay up`);
        await restartServices(existing, down, options);
      }
      await ensureTopics(existing.broker.brokers, existing.jobsTopic, options.topics ?? []);
      return existing;
    }
    log(missing.length
      ? `stack: restarting it to open ${missing.join(', ')}`
      : 'stack: a component is down; restarting the stack');
    await stackDown(dir, { log });
    roots.push(...existing.roots.filter((r) => !roots.includes(r)));
  }

  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const timeoutMs = options.timeoutMs ?? 120_000;
  const lastPorts = readLastPorts(dir);
  const env = { ...options.env };
  const jobsTopic = env.DELTA_JOBS_TOPIC || process.env.DELTA_JOBS_TOPIC || 'delta.jobs';
  const broker = await startKafka(dir, options.brokers, log);
  const record: StackRecord = {
    version: 1, dir, startedAt: new Date().toISOString(), roots, broker, jobsTopic,
    services: {} as Record<ServiceName, ServiceRecord>,
  };
  try {
    await ensureTopics(broker.brokers, jobsTopic, options.topics ?? []);
    const waits: Promise<void>[] = [];
    for (const name of SERVICE_NAMES) {
      const { service, ready } = await startService(name, record, env, timeoutMs,
        lastPorts[name]);
      record.services[name] = service;
      writeRecord(record);
      waits.push(ready);
    }
    await Promise.all(waits);
  } catch (err) {
    writeRecord(record);
    await stackDown(dir, { log }).catch(() => {});
    throw err instanceof RunError ? err
      : new RunError('STACK', `the stack did not come up: ${(err as Error).message}`, { cause: err });
  }
  writeRecord(record);
  for (const name of SERVICE_NAMES) {
    log(`stack: ${name} serving at ${record.services[name].address} (pid ` +
      `${record.services[name].pid})`);
  }
  return record;
}

/** Stops the services (SIGTERM, then SIGKILL after `graceMs`), then a broker it started. */
export async function stackDown(dir: string, options: {
  graceMs?: number; purge?: boolean; log?: (line: string) => void;
} = {}): Promise<boolean> {
  const log = options.log ?? (() => {});
  const record = readStackRecord(dir);
  if (!record) return false;
  const grace = options.graceMs ?? 20_000;
  await Promise.all([...SERVICE_NAMES].reverse().map(async (name) => {
    const s = record.services[name];
    if (!s) return;
    const stopped = await stopProcess(s.pid, s.main, grace);
    if (stopped.how !== 'not running') {
      log(`stack: ${name} stopped (${stopped.how}, ${stopped.seconds.toFixed(1)} s)`);
    }
  }));
  if (!record.broker.external && record.broker.pid) {
    const stopped = await stopProcess(record.broker.pid, BROKER_MARKER, grace);
    if (stopped.how !== 'not running') log(`stack: kafka stopped (${stopped.how})`);
  }
  rmSync(path.join(dir, RECORD), { force: true });
  if (options.purge && record.broker.dataDir) {
    rmSync(record.broker.dataDir, { recursive: true, force: true });
    log(`stack: removed the broker's data (${record.broker.dataDir})`);
  }
  return true;
}

interface BrokerModule {
  startBroker(options: {
    dataDir: string; detached: boolean; port?: number; log?: (line: string) => void;
  }): Promise<{ brokers: string; pid: number; dataDir: string; logFile: string }>;
}

async function startKafka(dir: string, external: string | undefined,
  log: (line: string) => void): Promise<StackRecord['broker']> {
  if (external) {
    log(`stack: using the Kafka broker at ${external}`);
    return { brokers: external, external: true };
  }
  const script = path.join(REPO_ROOT, 'tools', 'kafka', 'broker.mjs');
  if (!existsSync(script)) {
    throw new RunError('STACK', `${script} not found: the local stack runs from a Delta ` +
      'checkout; or give a broker with --brokers / DELTA_KAFKA_BROKERS');
  }
  const { startBroker } = (await import(pathToFileURL(script).href)) as BrokerModule;
  log('stack: starting the Kafka broker');
  try {
    // The broker keeps its data between stacks: the jobs topic is what lets jobs resume.
    const broker = await startBroker({
      dataDir: path.join(dir, 'kafka'), detached: true, port: await portFor(9092), log,
    });
    return { brokers: broker.brokers, external: false, pid: broker.pid, dataDir: broker.dataDir,
      logFile: broker.logFile };
  } catch (err) {
    throw new RunError('STACK', `the Kafka broker did not start: ${(err as Error).message}`,
      { cause: err });
  }
}

async function ensureTopics(brokers: string, jobsTopic: string, extra: string[]): Promise<void> {
  const specs: TopicSpec[] = defaultTopicSpecs().map((s) =>
    s.topic === 'delta.jobs' ? { ...s, topic: jobsTopic } : s);
  for (const topic of extra) {
    if (!specs.some((s) => s.topic === topic)) specs.push({ topic, partitions: 1 });
  }
  const stream = createStream({ brokers, clientId: 'delta-cli' });
  const admin = stream.admin();
  try {
    await admin.ensureTopics(specs);
  } catch (err) {
    throw new RunError('STACK', `cannot create the topics on ${brokers}: ${(err as Error).message}`,
      { cause: err });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Stops what is left of `names` (a hung process) and starts them again on their ports. */
async function restartServices(record: StackRecord, names: readonly ServiceName[],
  options: StackOptions): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const name of names) {
    const old = record.services[name];
    await stopProcess(old.pid, old.main, 20_000);
    const { service, ready } = await startService(name, record, { ...options.env },
      options.timeoutMs ?? 120_000, portOf(old.address));
    record.services[name] = service;
    writeRecord(record);
    waits.push(ready);
  }
  await Promise.all(waits);
}

async function startService(name: ServiceName, record: StackRecord,
  env: Record<string, string | undefined>, timeoutMs: number, preferredPort?: number):
  Promise<{ service: ServiceRecord; ready: Promise<void> }> {
  const main = path.join(REPO_ROOT, 'services', name, 'dist', 'main.js');
  if (!existsSync(main)) {
    throw new RunError('STACK', `${main} not found; build the services first ` +
      '(npx nx run-many -t build)');
  }
  const port = await portFor(preferredPort || DEFAULT_PORTS[name]);
  const address = `127.0.0.1:${port}`;
  const log = path.join(record.dir, 'logs', `${name}.log`);
  const stackId = createHash('sha256').update(record.dir).digest('hex').slice(0, 8);
  const instanceId = `${name}@stack-${stackId}`;
  const roots = record.roots.join(path.delimiter);
  const started = startDetached(process.execPath, [main], {
    log, cwd: record.dir,
    env: {
      ...process.env, ...env,
      DELTA_KAFKA_BROKERS: record.broker.brokers, DELTA_GRPC_HOST: '127.0.0.1',
      DELTA_GRPC_PORT: String(port), DELTA_INSTANCE_ID: instanceId,
      DELTA_JOBS_TOPIC: record.jobsTopic,
      DELTA_MODEL_ROOTS: roots, DELTA_DATA_ROOTS: roots, DELTA_OUTPUT_ROOTS: roots,
    },
  });
  const service = { pid: started.pid, address, log, instanceId, main };
  const died = started.exited.then((how) => {
    throw new RunError('STACK', `${name} exited at start (${how}); the end of ${log}:\n` +
      logTail(log));
  });
  const ready = Promise.race([waitForServing(address, { timeoutMs }), died]).catch((err) => {
    if (err instanceof RunError) throw err;
    throw new RunError('STACK', `${name} did not report SERVING at ${address} within ` +
      `${timeoutMs / 1000} s; the end of ${log}:\n${logTail(log)}`, { cause: err });
  });
  died.catch(() => {});
  await sleep(0);
  return { service, ready };
}

function writeRecord(record: StackRecord): void {
  const file = path.join(record.dir, RECORD);
  writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
  const ports = Object.fromEntries(Object.entries(record.services)
    .map(([name, s]) => [name, portOf(s.address)]));
  writeFileSync(path.join(record.dir, PORTS), JSON.stringify(ports) + '\n');
}

/**
 * The ports the folder's services had last (kept after `stack down`), so a stack started
 * again takes them when free and a run waiting on those addresses finds its services there.
 */
function readLastPorts(dir: string): Partial<Record<ServiceName, number>> {
  try {
    return JSON.parse(readFileSync(path.join(dir, PORTS), 'utf8')) as
      Partial<Record<ServiceName, number>>;
  } catch {
    return {};
  }
}

/** The port of a recorded "127.0.0.1:50051" address. */
function portOf(address: string): number {
  return Number(address.split(':').at(-1));
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
