// Compile-only build of the CUDA backend, for machines without a GPU (CI does it on every
// `npm test`): installs NVIDIA's compiler, runtime, cuBLAS and CCCL wheels from PyPI into
// .cache/cuda-toolchain (once; pinned in cuda-toolchain.txt), then builds the CUDA library,
// the CUDA-enabled addon and the GPU test programs for sm_80 and sm_90 in .cache/cuda-build.
// Any compile or link error fails it. It runs nothing: running needs a GPU (tools/gpu/run.sh).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const engine = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(engine, '../..');
const toolchain = path.join(repoRoot, '.cache', 'cuda-toolchain');
const cudaRoot = path.join(toolchain, 'nvidia', 'cu13');
const nvcc = path.join(cudaRoot, 'bin', 'nvcc');
const build = path.join(repoRoot, '.cache', 'cuda-build');
const pinsFile = path.join(engine, 'scripts', 'cuda-toolchain.txt');

function run(what, command, args) {
  const env = { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' };
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: repoRoot, env });
  if (r.error) throw new Error(`${what}: ${command} could not run (${r.error.message})`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
}

/** Installs the pinned wheels unless the folder already holds exactly these pins. */
function ensureToolchain() {
  const pins = readFileSync(pinsFile, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  const stamp = path.join(toolchain, 'pins.txt');
  if (existsSync(nvcc) && existsSync(stamp) && readFileSync(stamp, 'utf8') === pins.join('\n')) {
    return false;
  }
  rmSync(toolchain, { recursive: true, force: true });
  mkdirSync(toolchain, { recursive: true });
  run('installing the CUDA toolchain wheels (python3 -m pip; apt-get install python3-pip)',
    'python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps',
      '--no-compile', '--only-binary=:all:', '--target', toolchain, ...pins]);
  // The wheels ship versioned sonames and lib/; the linker and nvcc look for plain names and
  // lib64/.
  const lib = path.join(cudaRoot, 'lib');
  for (const name of ['cudart', 'cublas', 'cublasLt']) {
    symlinkSync(`lib${name}.so.13`, path.join(lib, `lib${name}.so`));
  }
  symlinkSync('lib', path.join(cudaRoot, 'lib64'));
  writeFileSync(stamp, pins.join('\n'));
  return true;
}

/** A cache written for another checkout's sources is dropped, so this checkout is built. */
function dropStaleCache() {
  const cache = path.join(build, 'CMakeCache.txt');
  if (!existsSync(cache)) return;
  const home = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(readFileSync(cache, 'utf8'))?.[1];
  if (home !== engine) rmSync(build, { recursive: true, force: true });
}

const started = Date.now();
const installed = ensureToolchain();
const installSeconds = (Date.now() - started) / 1000;
dropStaleCache();
run('configuring the CUDA build', 'cmake', [
  '-S', engine, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '--log-level=WARNING',
  '-DDELTA_ENGINE_CUDA=ON', `-DCMAKE_CUDA_COMPILER=${nvcc}`, '-DCMAKE_CUDA_ARCHITECTURES=80;90',
]);
run('compiling the CUDA backend', 'cmake', [
  '--build', build, '--parallel', '2',
  '--target', 'delta_engine', 'engine_cuda_parity', 'engine_cuda_bench',
]);
const seconds = (Date.now() - started) / 1000;
console.error(
  `build:cuda: CUDA backend compiled for sm_80 and sm_90 in ${seconds.toFixed(0)} s` +
    (installed ? ` (toolchain wheels installed in ${installSeconds.toFixed(0)} s)` : ''),
);
