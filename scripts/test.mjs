// `npm test`: every project's tests against one real Kafka broker. Ensures everything is
// installed and built (scripts/bootstrap.mjs), starts a broker on free loopback ports, runs
// `nx run-many -t test` with DELTA_KAFKA_BROKERS set, and stops the broker on the way out, also
// after a failure or Ctrl-C. Extra arguments go to nx (`npm test -- -p @delta/stream`).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureReady, repoRoot } from './bootstrap.mjs';

const log = (line) => console.error(line);
const reportDir = path.join(repoRoot, '.cache', 'test-results');

/** Sums the per-project vitest JSON reports into one closing line. */
function summary() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let files = 0;
  for (const name of readdirSync(reportDir).filter((f) => f.endsWith('.json'))) {
    const report = JSON.parse(readFileSync(path.join(reportDir, name), 'utf8'));
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    files += 1;
  }
  return { passed, failed, skipped, files };
}

async function main() {
  const started = Date.now();
  await ensureReady({ log, cuda: true });
  const { startBroker } = await import('../tools/kafka/broker.mjs');

  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(reportDir, { recursive: true });
  log('test: starting the Kafka broker');
  const broker = await startBroker({ log });
  let child;
  let stopping;
  const stop = () => {
    stopping ??= broker.stop();
    return stopping;
  };
  const onSignal = (signal) => {
    log(`test: ${signal}, stopping the tests and the broker`);
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let code;
  try {
    code = await new Promise((resolve, reject) => {
      child = spawn(
        'npx',
        ['nx', 'run-many', '-t', 'test', '--outputStyle=stream', ...process.argv.slice(2)],
        {
          cwd: repoRoot,
          stdio: 'inherit',
          detached: true, // its own process group, so a signal here can end all of it
          env: {
            ...process.env,
            DELTA_KAFKA_BROKERS: broker.brokers,
            DELTA_TEST_REPORT_DIR: reportDir,
            NX_NO_CLOUD: 'true',
            NX_DAEMON: 'false',
          },
        },
      );
      child.on('error', reject);
      child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
    });
  } finally {
    await stop();
  }

  const { passed, failed, skipped, files } = summary();
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  log(`test: ${files} project report(s), ${minutes} min in all, broker stopped`);
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (code === 0 && failed > 0) code = 1;
  process.exit(code);
}

main().catch((err) => {
  console.error(`test: ${err.message}`);
  process.exit(1);
});
