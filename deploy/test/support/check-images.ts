// Checks that each image's Dockerfile agrees with its service and its manifests: the image
// name, a Node.js LTS base that satisfies the repository's engines, a numeric non-root user
// that the pods run as, the service's port and entry point, a production-only install of the
// service's own workspaces, and for the trainer the engine's native build (CPU or CUDA).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  envOf, inChain, labelsOf, readDockerfile, type Dockerfile, type Stage,
} from './dockerfile.js';
import { repoRoot } from './kustomize.js';
import type { ServiceFacts } from './services.js';

export const imagesDir = path.join(repoRoot, 'deploy', 'images');

/** The image folders: deploy/images/<image>/Dockerfile, image "delta/<image>". */
export function imageFolders(): string[] {
  return readdirSync(imagesDir).filter((d) => existsSync(path.join(imagesDir, d, 'Dockerfile')))
    .sort();
}

/** The service an image runs: its folder name up to a variant suffix ("trainer-cuda"). */
export function serviceOfImage(image: string): string {
  return image.split('-')[0]!;
}

/** The Debian packages tools/debian-packages.txt lists under the comment naming `topic`. */
export function debianGroup(topic: string): string[] {
  const lines = readFileSync(path.join(repoRoot, 'tools', 'debian-packages.txt'), 'utf8')
    .split('\n');
  const out: string[] = [];
  let inGroup = false;
  for (const line of lines) {
    if (line.startsWith('#')) inGroup = line.includes(topic);
    else if (inGroup && line.trim()) out.push(line.trim());
  }
  return out;
}

function resolveArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{?([A-Z_]+)\}?/g, (m, name: string) => args[name] ?? m);
}

function runs(docker: Dockerfile, stage: Stage): string[] {
  return inChain(docker, stage, 'RUN').map((i) => i.args);
}

/** Problems of one image against its service and the uid its pods run as. */
export function checkImage(
  image: string, facts: ServiceFacts, podUser: number, text?: string,
): string[] {
  const file = path.join(imagesDir, image, 'Dockerfile');
  const docker = readDockerfile(file, text);
  const where = `deploy/images/${image}/Dockerfile`;
  const problems: string[] = [];
  const final = docker.stages.at(-1)!;
  const svc = facts.name;

  const title = Object.assign({}, ...inChain(docker, final, 'LABEL').map(labelsOf))[
    'org.opencontainers.image.title'];
  if (title !== `delta/${image}`) problems.push(`${where}: image title ${title}, not delta/${image}`);

  // Node.js: an LTS line (even major) at or above what package.json's engines asks.
  const node = docker.args.NODE_VERSION ?? '';
  const major = Number(node.split('.')[0]);
  const engines = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'))
    .engines.node as string;
  const minimum = Number(/(\d+)/.exec(engines)?.[1]);
  if (!(major % 2 === 0 && major >= minimum)) {
    problems.push(`${where}: NODE_VERSION ${node} is not a Node.js LTS line satisfying ${engines}`);
  }
  const bases = docker.stages.map((s) => resolveArgs(s.from, docker.args));
  if (!bases.some((b) => b.startsWith(`node:${node}-`))) {
    problems.push(`${where}: no stage is based on node:${node}`);
  }

  const user = inChain(docker, final, 'USER').at(-1)?.args ?? '';
  const [uid] = user.split(':');
  if (!/^\d+(:\d+)?$/.test(user) || Number(uid) === 0) {
    problems.push(`${where}: the final USER must be a numeric non-root uid (is "${user}")`);
  } else if (Number(uid) !== podUser) {
    problems.push(`${where}: USER ${uid}, but the pods run as ${podUser}`);
  }

  const expose = inChain(docker, final, 'EXPOSE').map((i) => Number(i.args.split('/')[0]));
  if (expose.length !== 1 || expose[0] !== facts.defaultPort) {
    problems.push(`${where}: EXPOSE ${expose.join(' ')}; the ${svc} listens on ${facts.defaultPort}`);
  }
  const entry = inChain(docker, final, 'ENTRYPOINT').at(-1)?.args ?? '';
  const main = `services/${svc}/dist/main.js`;
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, facts.workspace, 'package.json'), 'utf8'));
  const bin = path.posix.join(facts.workspace, String(pkg.bin?.[`delta-${svc}`] ?? ''));
  let argv: unknown;
  try {
    argv = JSON.parse(entry);
  } catch {
    argv = entry;
  }
  if (JSON.stringify(argv) !== JSON.stringify(['node', main]) || bin !== main) {
    problems.push(`${where}: ENTRYPOINT ${entry} should run node ${main}, the delta-${svc} bin`);
  }

  const env = Object.assign({}, ...inChain(docker, final, 'ENV').map(envOf));
  if (env.NODE_ENV !== 'production') problems.push(`${where}: NODE_ENV must be production`);
  for (const name of Object.keys(env)) {
    if (/^(DELTA|OTEL)_/.test(name) && !(name in facts.spec) && !facts.extra.includes(name)) {
      problems.push(`${where}: sets ${name}, which the ${svc} does not declare`);
    }
  }

  // Dependencies: the service's workspaces only, production-only in the shipped stage.
  const install = `npm ci --workspace services/${svc} --include-workspace-root --ignore-scripts`;
  const prodInstall = `npm ci --omit=dev --workspace services/${svc} --include-workspace-root ` +
    '--ignore-scripts';
  const copiedFrom = inChain(docker, final, 'COPY')
    .map((i) => /--from=(\S+)/.exec(i.args)?.[1]).filter(Boolean) as string[];
  const stageRuns = (name: string) => {
    const stage = docker.stages.find((s) => s.name === name);
    return stage ? runs(docker, stage).join('\n') : '';
  };
  const prodStage = copiedFrom.find((s) => stageRuns(s).includes(prodInstall));
  const compile = `npx tsc -b services/${svc}`;
  const buildStage = copiedFrom.find((s) =>
    stageRuns(s).includes(install) && stageRuns(s).includes(compile));
  if (!prodStage) problems.push(`${where}: the shipped node_modules must come from "${prodInstall}"`);
  if (!buildStage) {
    problems.push(`${where}: no build stage runs "${install}" and then "${compile}"`);
  }
  for (const stage of docker.stages) {
    if (!runs(docker, stage).some((r) => r.includes('npm ci'))) continue;
    const stageEnv = Object.assign({}, ...inChain(docker, stage, 'ENV').map(envOf));
    if (stageEnv.ONNXRUNTIME_NODE_INSTALL !== 'skip') {
      problems.push(`${where}: stage ${stage.name}: ONNXRUNTIME_NODE_INSTALL=skip must be set ` +
        'where npm installs, so ONNX Runtime never downloads CUDA libraries');
    }
  }

  if (svc === 'trainer') problems.push(...checkEngineBuild(image, docker, buildStage, where));
  return problems;
}

/** The trainer's native engine: built with the engine's packages, shipped with its runtime. */
function checkEngineBuild(
  image: string, docker: Dockerfile, buildStage: string | undefined, where: string,
): string[] {
  const problems: string[] = [];
  const build = docker.stages.find((s) => s.name === buildStage);
  const steps = build ? runs(docker, build).join('\n') : '';
  for (const pkg of debianGroup('The native engine (libs/engine)')) {
    if (!new RegExp(`apt-get install[^\\n]*\\s${pkg.replace(/\+/g, '\\+')}(\\s|$)`).test(steps)) {
      problems.push(`${where}: the build stage does not install ${pkg} (tools/debian-packages.txt)`);
    }
  }
  const cuda = image.endsWith('-cuda') ? 'ON' : 'OFF';
  if (!steps.includes(`-DDELTA_ENGINE_CUDA=${cuda}`)) {
    problems.push(`${where}: the engine must be configured with -DDELTA_ENGINE_CUDA=${cuda}`);
  }
  const cmake = readFileSync(path.join(repoRoot, 'libs', 'engine', 'CMakeLists.txt'), 'utf8');
  if (!/set\(DELTA_ENGINE_CUDA\b[^)]*CACHE/.test(cmake)) {
    problems.push('libs/engine/CMakeLists.txt no longer has the DELTA_ENGINE_CUDA option');
  }
  const loads = readFileSync(path.join(repoRoot, 'libs', 'engine', 'src', 'native.ts'), 'utf8');
  const addon = /new URL\('\.\.\/(build\/[^']+)'/.exec(loads)?.[1];
  const final = docker.stages.at(-1)!;
  const finalRuns = runs(docker, final).join('\n');
  if (!addon || !steps.includes(`libs/engine/${addon}`)) {
    problems.push(`${where}: the image does not ship libs/engine/${addon}, ` +
      'the addon the engine loads');
  }
  if (!/apt-get install[^\n]*libopenblas0-openmp/.test(finalRuns)) {
    problems.push(`${where}: the shipped stage needs the OpenBLAS (OpenMP) runtime library`);
  }
  return problems;
}
