// Runs the CUDA parity test (libs/engine/native/cuda/test/parity.cpp) on the CPU: copies the
// CUDA sources into .cache/cuda-emulation, rewrites each kernel launch `k<<<grid, block, smem,
// stream>>>(args)` into a call of the emulator (cuda_emulation.h), compiles everything with g++
// against the CPU engine and runs the program. A check of the kernels' logic for machines
// without a GPU; it says nothing about speed, and a pass here is no substitute for
// tools/gpu/run.sh. Slow (the emulated threads run one at a time): about half an hour for the
// whole program; arguments go to it (a tiny model's name runs only that model's checks).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const native = path.join(repoRoot, 'libs/engine/native');
const work = path.join(repoRoot, '.cache/cuda-emulation');
const include = path.join(work, 'include');
const src = path.join(work, 'src');

/** The index just past the bracket that closes the one at `open`. */
function closing(text, open, left, right) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === left) depth++;
    else if (text[i] === right && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${left}${right} at ${open}`);
}

/** Splits on commas outside brackets. */
function topLevelSplit(text) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur.trim());
  return parts;
}

/** `callee<<<g, b, smem, s>>>(args)` becomes `emu::launch(dim3(g), dim3(b), smem, ...)`. */
function rewriteLaunches(text) {
  for (;;) {
    const at = text.indexOf('<<<');
    if (at < 0) return text;
    let start = at;
    if (text[start - 1] === '>') {
      let depth = 0;
      do {
        start--;
        if (text[start] === '>') depth++;
        else if (text[start] === '<') depth--;
      } while (depth > 0);
    }
    start = /[A-Za-z_][\w:]*$/.exec(text.slice(0, start)).index;
    const callee = text.slice(start, at);
    const end = text.indexOf('>>>', at);
    const [grid, block, smem = '0'] = topLevelSplit(text.slice(at + 3, end));
    const open = text.indexOf('(', end);
    const close = closing(text, open, '(', ')');
    const args = text.slice(open + 1, close - 1);
    const call = `emu::launch(dim3(${grid}), dim3(${block}), ${smem}, [&] { ${callee}(${args}); })`;
    text = text.slice(0, start) + call + text.slice(close);
  }
}

function copyTree(from, to) {
  for (const name of readdirSync(from)) {
    const file = path.join(from, name);
    if (statSync(file).isDirectory()) {
      copyTree(file, path.join(to, name));
      continue;
    }
    if (!/\.(cu|cuh|h|cpp)$/.test(name)) continue;
    const text = rewriteLaunches(
      readFileSync(file, 'utf8').replaceAll(
        'extern __shared__ float smem[];',
        'float* smem = emu::dyn_smem.data();',
      ),
    );
    mkdirSync(to, { recursive: true });
    writeFileSync(path.join(to, name.endsWith('.cu') ? `${name}.cpp` : name), text);
  }
}

function run(what, command, args) {
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: work });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(include, { recursive: true });
const shim = readFileSync(path.join(here, 'cuda_emulation.h'), 'utf8');
writeFileSync(path.join(include, 'cuda_emulation.h'), shim);
for (const header of ['cuda_runtime.h', 'cuda_runtime_api.h', 'cuda_bf16.h', 'cublas_v2.h']) {
  writeFileSync(path.join(include, header), '#include "cuda_emulation.h"\n');
}
copyTree(path.join(native, 'cuda'), path.join(src, 'cuda'));

const blas = '/usr/include/x86_64-linux-gnu/openblas-openmp';
const flags = ['-std=c++20', '-O2', '-fopenmp', '-w', `-I${include}`, `-I${src}`, `-I${native}`,
  `-I${blas}`];
const sources = [
  ...readdirSync(path.join(src, 'cuda')).filter((f) => f.endsWith('.cu.cpp'))
    .map((f) => path.join(src, 'cuda', f)),
  path.join(src, 'cuda/test/parity.cpp'),
  ...['config', 'loss', 'model', 'schedule', 'trainer', 'workspace']
    .map((f) => path.join(native, 'core', `${f}.cpp`)),
  path.join(native, 'cpu/cpu_backend.cpp'),
];
const objects = sources.map((s) => path.join(work, `${path.basename(s)}.o`));
const compile = (i) => new Promise((resolve, reject) => {
  const child = spawn('g++', [...flags, '-c', sources[i], '-o', objects[i]], { stdio: 'inherit' });
  child.on('error', reject);
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`g++ ${sources[i]}`))));
});
// Two compilers at a time.
let next = 0;
const worker = async () => {
  while (next < sources.length) await compile(next++);
};
await Promise.all([worker(), worker()]);
const lib = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
run('linking', 'g++', ['-fopenmp', ...objects, '-o', 'parity', `-L${lib}`, '-lopenblas',
  `-Wl,-rpath,${lib}`]);
run('the emulated parity test', path.join(work, 'parity'), process.argv.slice(2));
