// Fetches the Apache Kafka broker jars from Maven Central and runs a single-node KRaft broker on
// loopback with settings fit for tests. It is not a production deployment (see deploy/ for that):
// one node, replication factor 1, no security, small heap.
import { spawn, execFile } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root, so the jar cache lands in one place whoever calls. */
export const repoRoot = path.resolve(here, '../..');

/** The pinned broker version, read from pom.xml so the version lives in one file. */
export function kafkaVersion() {
  const pom = readFileSync(path.join(here, 'pom.xml'), 'utf8');
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!match) throw new Error(`${path.join(here, 'pom.xml')}: no <kafka.version> property`);
  return match[1];
}

/** Folder that holds the broker's jars for the pinned version (filled by fetchKafka). */
export function libsDir(version = kafkaVersion()) {
  return path.join(repoRoot, '.cache', 'kafka', version, 'libs');
}

/**
 * Copies the broker jars and their dependencies into .cache/kafka/<version>/libs with Maven.
 * Cached: a second call returns at once. Maven keeps its own cache in ~/.m2.
 */
export async function fetchKafka({ log = () => {} } = {}) {
  const version = kafkaVersion();
  const dir = libsDir(version);
  const stamp = path.join(dir, '.complete');
  if (existsSync(stamp)) return dir;

  log(`fetching Apache Kafka ${version} jars from Maven Central into ${dir}`);
  await rm(dir, { recursive: true, force: true });
  try {
    await execFileAsync(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        path.join(here, 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${dir}`,
        '-DincludeScope=runtime',
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (err) {
    const output = `${err.stdout ?? ''}${err.stderr ?? ''}`
      .trim()
      .split('\n')
      .slice(-20)
      .join('\n');
    throw new Error(`mvn could not fetch the Kafka ${version} jars:\n${output}`, { cause: err });
  }
  if (!readdirSync(dir).some((f) => f.startsWith('kafka_2.13-'))) {
    throw new Error(`mvn ran but ${dir} has no kafka_2.13 jar`);
  }
  writeFileSync(stamp, `${version}\n`);
  return dir;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function serverProperties({ dataDir, port, controllerPort }) {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${path.join(dataDir, 'data')}`,
    // One node: every internal topic must fit on it, or coordinators are never available.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'num.partitions=1',
    // Tests join and leave groups often: no waiting for more members to arrive.
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=4',
    'background.threads=4',
    'log.cleaner.threads=1',
    'log.cleaner.backoff.ms=1000',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    '',
  ].join('\n');
}

function javaArgs({ dir, dataDir, heap }) {
  return [
    `-Xmx${heap}`,
    `-Xms${heap === '512m' ? '256m' : heap}`,
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(here, 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dataDir}`,
    '-cp',
    path.join(dir, '*'),
  ];
}

function waitForPort(port, deadline, failed) {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        const why = failed();
        if (why) reject(why);
        else if (Date.now() > deadline) reject(new Error(`nothing listens on 127.0.0.1:${port}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

async function waitForStarted(logFile, deadline, failed) {
  while (Date.now() < deadline) {
    const why = failed();
    if (why) throw why;
    const text = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
    if (/Kafka Server started/.test(text)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the broker did not report "Kafka Server started" in time; see ${logFile}`);
}

/**
 * Formats KRaft storage in a fresh folder and starts one broker on free loopback ports.
 * Returns { brokers, port, pid, dataDir, logFile, stop }. With detached: true the broker
 * outlives this process (the CLI's `start`); otherwise it is killed when this process exits.
 * Options: dataDir (default: a new temp folder), port, controllerPort, heap ('512m'),
 * timeoutMs (60 s), log (progress lines, silent by default).
 */
export async function startBroker(options = {}) {
  const { heap = '512m', timeoutMs = 60_000, detached = false, log = () => {} } = options;
  const dir = await fetchKafka({ log });
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'delta-kafka-')));
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  let controllerPort = options.controllerPort ?? (await freePort());
  while (controllerPort === port) controllerPort = await freePort();

  const propsFile = path.join(dataDir, 'server.properties');
  writeFileSync(propsFile, serverProperties({ dataDir, port, controllerPort }));
  // A data folder formatted before keeps its cluster id, so a broker restarted on it keeps its
  // topics (the local stack's jobs topic among them).
  // A leading "-" would read as an option to the storage tool.
  const clusterId =
    existingClusterId(dataDir) ??
    randomBytes(16).toString('base64url').slice(0, 22).replace(/^-/, 'A');
  const jvm = javaArgs({ dir, dataDir, heap: '256m' });
  try {
    await execFileAsync('java', [
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      propsFile,
      '--ignore-formatted',
    ]);
  } catch (err) {
    throw new Error(`kafka storage format failed: ${(err.stderr || err.stdout || '').trim()}`, {
      cause: err,
    });
  }

  const logFile = path.join(dataDir, 'server.log');
  const child = spawn('java', [...javaArgs({ dir, dataDir, heap }), 'kafka.Kafka', propsFile], {
    stdio: 'ignore',
    detached,
  });
  let spawnError;
  child.once('error', (err) => {
    spawnError = err;
  });
  const killOnExit = () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  };
  if (!detached) process.on('exit', killOnExit);

  const deadline = Date.now() + timeoutMs;
  const failed = () => {
    if (spawnError) return new Error(`java could not start: ${spawnError.message}`);
    if (child.exitCode === null && child.signalCode === null) return undefined;
    return new Error(
      `the broker exited early (${child.exitCode ?? child.signalCode}); see ${logFile}`,
    );
  };
  try {
    await waitForPort(port, deadline, failed);
    await waitForStarted(logFile, deadline, failed);
  } catch (err) {
    killOnExit();
    throw err;
  }
  if (detached) child.unref();
  log(`Kafka ${kafkaVersion()} broker up at 127.0.0.1:${port} (pid ${child.pid}, log ${logFile})`);

  const stop = async () => {
    process.off('exit', killOnExit);
    await stopBroker({ pid: child.pid, dataDir, removeData: options.dataDir === undefined });
  };
  return {
    brokers: `127.0.0.1:${port}`,
    port,
    controllerPort,
    pid: child.pid,
    dataDir,
    logFile,
    stop,
  };
}

/** The cluster id a data folder was formatted with, or undefined for a fresh folder. */
function existingClusterId(dataDir) {
  const meta = path.join(dataDir, 'data', 'meta.properties');
  if (!existsSync(meta)) return undefined;
  return /^cluster\.id=(.+)$/m.exec(readFileSync(meta, 'utf8'))?.[1]?.trim();
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a broker by pid: SIGTERM, then SIGKILL after graceMs (10 s). Removes its data folder
 * when removeData is set.
 */
export async function stopBroker({ pid, dataDir, removeData = false, graceMs = 10_000 }) {
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  }
  if (removeData && dataDir) await rm(dataDir, { recursive: true, force: true });
}
