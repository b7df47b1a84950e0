// Configures and builds the native addon with CMake (Release) into build/. A CMake cache left
// by a build of another checkout (a copied folder, a restored cache) points at that
// checkout's sources; it is dropped first so this checkout's sources are what gets built.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = path.join(root, 'build');
const cache = path.join(build, 'CMakeCache.txt');

if (existsSync(cache)) {
  const home = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(readFileSync(cache, 'utf8'))?.[1];
  if (home !== root) {
    for (const stale of ['CMakeCache.txt', 'CMakeFiles', 'Makefile', 'cmake_install.cmake']) {
      rmSync(path.join(build, stale), { recursive: true, force: true });
    }
  }
}

for (const args of [
  ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '--log-level=WARNING'],
  ['--build', build, '--parallel', '2'],
]) {
  const r = spawnSync('cmake', args, { stdio: 'inherit' });
  if (r.error) {
    console.error(
      `cmake could not run (${r.error.message}); install cmake, g++ and libopenblas-openmp-dev`,
    );
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}
