// The Dockerfiles agree with the services and the manifests: one image folder per image the
// manifests run, tagged with the service's version; each Dockerfile on a Node.js LTS base, as
// the pods' non-root user, with the service's port, entry point and production-only workspaces,
// the trainer's with the native engine (CPU or CUDA); a build context (.dockerignore) holding
// what the builds need and nothing built elsewhere. Images cannot be built here (no container
// engine); deploy/README.md says how they were rehearsed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkImage, imageFolders, imagesDir, serviceOfImage } from './support/check-images.js';
import { ignored } from './support/dockerfile.js';
import { repoRoot } from './support/kustomize.js';
import { OVERLAYS, find, render, workloads } from './support/render.js';
import {
  SERVICE_NAMES, buildClosure, runtimeClosure, serviceFacts, type ServiceName,
} from './support/services.js';

const facts = serviceFacts();
const renders = OVERLAYS.map((dir) => render(dir));
const podUser = (name: string) =>
  find(renders[0]!, 'StatefulSet', `delta-${name}`).spec.template.spec.securityContext.runAsUser;

describe.each(imageFolders())('deploy/images/%s', (image) => {
  const name = serviceOfImage(image) as ServiceName;

  it('builds its service as the manifests and the service expect', () => {
    expect(SERVICE_NAMES).toContain(name);
    expect(checkImage(image, facts[name], podUser(name))).toEqual([]);
  });

  it('is run by an overlay at the service\'s version', () => {
    const images = renders.flatMap((objects) => workloads(objects))
      .flatMap((w) => w.spec.template.spec.containers.map((c: { image: string }) => c.image));
    expect(images).toContain(`delta/${image}:${facts[name].version}`);
  });
});

describe('images and workspaces', () => {
  it('has an image folder for every delta image the overlays run', () => {
    const used = new Set(renders.flatMap((objects) => workloads(objects))
      .flatMap((w) => w.spec.template.spec.containers.map((c: { image: string }) => c.image))
      .filter((i: string) => i.startsWith('delta/'))
      .map((i: string) => i.slice('delta/'.length).split(':')[0]));
    expect([...used].sort()).toEqual(imageFolders());
  });

  it.each(SERVICE_NAMES)('compiles every workspace the %s imports with `tsc -b`', (name) => {
    const built = buildClosure(`services/${name}`);
    expect(runtimeClosure(`services/${name}`).filter((w) => !built.includes(w))).toEqual([]);
  });
});

describe('the build context (.dockerignore)', () => {
  const rules = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8');
  const tracked = execFileSync('git', ['ls-files', 'libs', 'services'], { cwd: repoRoot,
    encoding: 'utf8' }).split('\n').filter(Boolean);
  const needed = new Set(SERVICE_NAMES.flatMap((n) => runtimeClosure(`services/${n}`)));

  it('holds the manifests, the sources and the engine\'s native sources the builds need', () => {
    const wanted = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.base.json',
      ...tracked.filter((f) => {
        const [base, dir, part] = f.split('/');
        return needed.has(`${base}/${dir}`) &&
          (['src', 'native'].includes(part!) || /^(package|tsconfig)\.json$|^CMakeLists\.txt$/
            .test(part!));
      })];
    expect(wanted.length).toBeGreaterThan(100);
    expect(wanted.filter((f) => ignored(rules, f))).toEqual([]);
  });

  it('leaves out installed packages, build outputs, tests and everything else', () => {
    const unwanted = ['node_modules/yaml/package.json', 'libs/rpc/node_modules/x/index.js',
      'libs/rpc/dist/index.js', 'libs/engine/build/delta_engine.node', 'libs/rpc/test/a.test.ts',
      'services/trainer/bench/train.ts', '.git/HEAD', '.cache/kustomize/v5.8.2/kustomize',
      'deploy/base/kustomization.yaml', 'test/package.json', 'runs/x/model.onnx',
      'libs/rpc/tsconfig.tsbuildinfo'];
    expect(unwanted.filter((f) => !ignored(rules, f))).toEqual([]);
  });
});

describe('drift is caught', () => {
  const dockerfile = readFileSync(path.join(imagesDir, 'generator', 'Dockerfile'), 'utf8');

  it('a port, user or install that no longer matches', () => {
    const text = dockerfile.replace('EXPOSE 50051', 'EXPOSE 8080')
      .replace('USER 1000:1000', 'USER node')
      .replace('npm ci --omit=dev --workspace services/generator',
        'npm ci --workspace services/generator');
    expect(checkImage('generator', facts.generator, 1000, text)).toEqual([
      'deploy/images/generator/Dockerfile: the final USER must be a numeric non-root uid (is "node")',
      'deploy/images/generator/Dockerfile: EXPOSE 8080; the generator listens on 50051',
      'deploy/images/generator/Dockerfile: the shipped node_modules must come from "npm ci ' +
        '--omit=dev --workspace services/generator --include-workspace-root --ignore-scripts"',
    ]);
  });

  it('a Node.js base that is not an LTS line, and a pod user that differs', () => {
    const text = dockerfile.replace(/ARG NODE_VERSION=\S+/, 'ARG NODE_VERSION=25.9.0');
    expect(checkImage('generator', facts.generator, 2000, text)).toEqual([
      'deploy/images/generator/Dockerfile: NODE_VERSION 25.9.0 is not a Node.js LTS line ' +
        'satisfying >=20.19',
      'deploy/images/generator/Dockerfile: USER 1000, but the pods run as 2000',
    ]);
  });

  it('a trainer image that would build the engine without CUDA', () => {
    const text = readFileSync(path.join(imagesDir, 'trainer-cuda', 'Dockerfile'), 'utf8')
      .replace('-DDELTA_ENGINE_CUDA=ON', '-DDELTA_ENGINE_CUDA=AUTO')
      .replace(' libopenblas-openmp-dev', '');
    expect(checkImage('trainer-cuda', facts.trainer, 1000, text)).toEqual([
      'deploy/images/trainer-cuda/Dockerfile: the build stage does not install ' +
        'libopenblas-openmp-dev (tools/debian-packages.txt)',
      'deploy/images/trainer-cuda/Dockerfile: the engine must be configured with ' +
        '-DDELTA_ENGINE_CUDA=ON',
    ]);
  });
});
