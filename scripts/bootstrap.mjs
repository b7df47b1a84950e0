// "Ensure installed and built": the step `npm test` and `npm run demo` share. It installs
// missing Debian packages (tools/debian-packages.txt), runs `npm ci` when node_modules is missing
// or out of date with package-lock.json, fetches the Kafka jars, and builds every project.
// It uses only Node's own modules, so it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(command, args, { env, what } = {}) {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  if (result.error) throw new Error(`${what ?? command}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `${what ?? `${command} ${args.join(' ')}`} failed (exit ${result.status ?? result.signal})`,
    );
  }
}

/** Packages listed in tools/debian-packages.txt (comments and blank lines dropped). */
export function debianPackages() {
  const file = path.join(repoRoot, 'tools', 'debian-packages.txt');
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

function installed(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/** Installs the listed Debian packages that are missing (apt-get, non-interactive, as root). */
export function ensureDebianPackages({ log = () => {} } = {}) {
  if (!existsSync('/usr/bin/dpkg-query')) {
    log('bootstrap: not a Debian system; skipping tools/debian-packages.txt');
    return [];
  }
  const missing = debianPackages().filter((p) => !installed(p));
  if (missing.length === 0) return [];
  log(`bootstrap: installing Debian packages: ${missing.join(' ')}`);
  const aptGet = process.getuid?.() === 0 ? ['apt-get'] : ['sudo', 'apt-get'];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run(aptGet[0], [...aptGet.slice(1), 'update', '-q'], { env, what: 'apt-get update' });
  run(
    aptGet[0],
    [...aptGet.slice(1), 'install', '-y', '-q', '--no-install-recommends', ...missing],
    { env, what: `apt-get install ${missing.join(' ')}` },
  );
  return missing;
}

/**
 * Why node_modules does not match package-lock.json, or undefined when it does. Compares the
 * lock with npm's record of what it installed (node_modules/.package-lock.json).
 */
export function nodeModulesProblem() {
  const hidden = path.join(repoRoot, 'node_modules', '.package-lock.json');
  if (!existsSync(hidden)) return 'node_modules is missing';
  const wanted =
    JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(hidden, 'utf8')).packages ?? {};
  for (const [key, entry] of Object.entries(wanted)) {
    if (!key.includes('node_modules/')) continue;
    const present = have[key];
    if (!present) {
      if (entry.optional) continue; // optional (often another platform's) packages may be absent
      return `${key} is not installed`;
    }
    if (entry.version && present.version !== entry.version) {
      return `${key} is ${present.version}, package-lock.json wants ${entry.version}`;
    }
  }
  return undefined;
}

/** Runs `npm ci` when node_modules is missing or stale. */
export function ensureNodeModules({ log = () => {} } = {}) {
  const problem = nodeModulesProblem();
  if (!problem) return false;
  log(`bootstrap: npm ci (${problem})`);
  // The CPU build of onnxruntime-node ships in its package: never download GPU libraries.
  run('npm', ['ci', '--no-audit', '--no-fund'], {
    env: { ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip' },
    what: 'npm ci',
  });
  return true;
}

/** Fetches the Kafka broker jars with Maven (cached). */
export async function ensureKafka({ log = () => {} } = {}) {
  const { fetchKafka } = await import('../tools/kafka/broker.mjs');
  return fetchKafka({ log });
}

/** Builds every project with nx (cached by nx between runs). */
export function buildAll({ log = () => {} } = {}) {
  log('bootstrap: nx run-many -t build');
  run('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], {
    env: { NX_NO_CLOUD: 'true', NX_DAEMON: 'false' },
    what: 'the build',
  });
}

/**
 * Compiles the engine's CUDA backend without a GPU (`npm run build:cuda`: NVIDIA's compiler
 * wheels from PyPI, cached in .cache/cuda-toolchain), so a compile error fails the tests.
 * DELTA_CUDA_COMPILE=0 skips it.
 */
export function compileCuda({ log = () => {} } = {}) {
  if (process.env.DELTA_CUDA_COMPILE === '0') {
    log('bootstrap: DELTA_CUDA_COMPILE=0, skipping the CUDA compile');
    return;
  }
  log('bootstrap: compiling the CUDA backend (npm run build:cuda)');
  run('node', [path.join('libs', 'engine', 'scripts', 'build-cuda.mjs')], {
    what: 'the CUDA compile (npm run build:cuda)',
  });
}

/**
 * Everything a fresh clone needs before tests or the demo run: Debian packages, npm packages,
 * the Kafka jars and a build, and with `cuda` the compile-only CUDA build. Each step is
 * skipped when already done.
 */
export async function ensureReady({
  log = (line) => console.error(line),
  build = true,
  kafka = true,
  cuda = false,
} = {}) {
  ensureDebianPackages({ log });
  ensureNodeModules({ log });
  if (kafka) await ensureKafka({ log });
  if (build) buildAll({ log });
  if (build && cuda) compileCuda({ log });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureReady().catch((err) => {
    console.error(`bootstrap: ${err.message}`);
    process.exit(1);
  });
}
