// `npm run demo`: the built-in delta-learning pipeline from a fresh clone. Makes sure everything
// is installed and built (scripts/bootstrap.mjs), runs `delta run examples/demo.yaml` - which
// builds the pipeline's world, starts a local stack, drives every stage and stops the stack -
// and prints where the report is. Arguments after `--` go to `delta run` (`-- --keep-stack`).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureReady, repoRoot } from './bootstrap.mjs';

const log = (line) => console.error(line);

async function main() {
  const started = Date.now();
  await ensureReady({ log });
  const bin = path.join(repoRoot, 'services', 'cli', 'dist', 'bin.js');
  const pipeline = path.join('examples', 'demo.yaml');
  log(`demo: delta run ${pipeline}`);

  // Ctrl-C reaches `delta run` too (same process group); it stops cleanly and says how to
  // resume, and this script waits for it to say so.
  process.on('SIGINT', () => {});
  let stdout = '';
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'run', pipeline, ...process.argv.slice(2)], {
      cwd: repoRoot, stdio: ['inherit', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const result = stdout.trim() ? JSON.parse(stdout.trim().split('\n').at(-1)) : {};
  if (code === 0 && result.report) {
    console.log(`demo: finished in ${minutes} min; the report is at\n` +
      `  ${path.relative(process.cwd(), result.report.html) || result.report.html}\n` +
      `  ${path.relative(process.cwd(), result.report.markdown) || result.report.markdown}`);
  } else {
    console.error(`demo: stopped after ${minutes} min (${result.state ?? `exit ${code}`})` +
      (result.run_id ? `; continue it with: node ${path.relative(process.cwd(), bin)} resume ` +
        `${result.run_id}` : ''));
  }
  process.exit(code);
}

main().catch((err) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
