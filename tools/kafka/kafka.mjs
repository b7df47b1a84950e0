#!/usr/bin/env node
// Command line for the local test broker: fetch the jars, start one broker in the background
// (state in .kafka/ at the repository root), show its status, stop it, or run it in the
// foreground. Its data is thrown away at each start; it is not meant to keep anything.
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  fetchKafka,
  freePort,
  kafkaVersion,
  repoRoot,
  startBroker,
  stopBroker,
} from './broker.mjs';

const stateDir = path.join(repoRoot, '.kafka');
const stateFile = path.join(stateDir, 'broker.json');
const usage = `usage: node tools/kafka/kafka.mjs <command> [--port N]

  fetch    download the Kafka ${kafkaVersion()} jars with Maven (cached in .cache/kafka)
  start    start a broker in the background on 127.0.0.1 (default port 9092, else a free one)
  status   print the running broker's address
  stop     stop the background broker
  run      start a broker in the foreground until Ctrl-C

Use the printed address as DELTA_KAFKA_BROKERS.`;

function readState() {
  if (!existsSync(stateFile)) return undefined;
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  try {
    process.kill(state.pid, 0);
    return state;
  } catch {
    return undefined;
  }
}

async function choosePort(args) {
  const i = args.indexOf('--port');
  if (i >= 0) {
    const port = Number(args[i + 1]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new Error(`--port: "${args[i + 1]}" is not a port`);
    return port;
  }
  // 9092 when it is free, so the usual default works; else any free port.
  const { createServer } = await import('node:net');
  const free = await new Promise((resolve) => {
    const server = createServer()
      .once('error', () => resolve(false))
      .listen(9092, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? 9092 : freePort();
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  const log = (line) => console.error(line);
  switch (command) {
    case 'fetch':
      console.log(await fetchKafka({ log }));
      return;
    case 'start': {
      const running = readState();
      if (running) {
        console.log(running.brokers);
        return;
      }
      rmSync(path.join(stateDir, 'broker'), { recursive: true, force: true });
      mkdirSync(stateDir, { recursive: true });
      const broker = await startBroker({
        dataDir: path.join(stateDir, 'broker'),
        detached: true,
        port: await choosePort(args),
        log,
      });
      writeFileSync(
        stateFile,
        JSON.stringify(
          {
            pid: broker.pid,
            brokers: broker.brokers,
            dataDir: broker.dataDir,
            logFile: broker.logFile,
          },
          null,
          2,
        ),
      );
      console.log(broker.brokers);
      return;
    }
    case 'status': {
      const running = readState();
      if (!running) {
        console.error('no broker is running');
        process.exitCode = 1;
        return;
      }
      console.log(running.brokers);
      return;
    }
    case 'stop': {
      const running = readState();
      if (running) await stopBroker({ pid: running.pid });
      rmSync(stateFile, { force: true });
      return;
    }
    case 'run': {
      const broker = await startBroker({ port: await choosePort(args), log });
      console.log(broker.brokers);
      const stop = async () => {
        await broker.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise(() => {});
      return;
    }
    default:
      console.error(usage);
      process.exitCode = command ? 2 : 0;
  }
}

main().catch((err) => {
  console.error(`delta-kafka: ${err.message}`);
  process.exit(1);
});
