// The `world:` section of a pipeline: builds the synthetic world (tasks, tokenizer, model ladder,
// prompt files) with @delta/world, imported only when a pipeline asks for it, and turns
// `world:<name>` references into paths. What the world contains is that library's business.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { RunError } from '../errors.js';
import type { Pipeline, Ref } from './types.js';

/** What a built world offers a pipeline. */
export interface WorldOutput {
  /** Model folders by name (Hugging Face layout with onnx/). */
  models: Record<string, string>;
  /** Prompt files by name. */
  prompts: Record<string, string>;
  /** Evaluation tasks it registered with @delta/evals. */
  tasks: string[];
}

/** The shape of @delta/world's entry point this module relies on. */
interface WorldModule {
  buildWorld(options: {
    seed: number;
    cacheDir: string;
    onProgress?: (event: unknown) => void;
  }): Promise<WorldOutput>;
}

/**
 * Builds (or loads from its cache) the world a pipeline names. The module is a package name
 * (default @delta/world) or an absolute path to a module exporting the same buildWorld.
 */
export async function buildWorld(
  world: NonNullable<Pipeline['world']>,
  onProgress: (event: unknown) => void,
): Promise<WorldOutput> {
  const specifier = path.isAbsolute(world.module) ? pathToFileURL(world.module).href : world.module;
  let mod: WorldModule;
  try {
    mod = (await import(specifier)) as WorldModule;
  } catch (err) {
    throw new RunError('WORLD', `the pipeline's world module ${world.module} cannot be loaded ` +
      `(${(err as Error).message}); build it, or name model folders and prompt files in the ` +
      'pipeline instead', { cause: err });
  }
  if (typeof mod.buildWorld !== 'function') {
    throw new RunError('WORLD', `${world.module} exports no buildWorld function`);
  }
  try {
    const out = await mod.buildWorld({ seed: world.seed, cacheDir: world.cache, onProgress });
    return { models: out.models ?? {}, prompts: out.prompts ?? {}, tasks: out.tasks ?? [] };
  } catch (err) {
    throw new RunError('WORLD', `building the world failed: ${(err as Error).message}`,
      { cause: err });
  }
}

/** Absolute paths of everything a pipeline names, world references resolved. */
export interface ResolvedPaths {
  student: string;
  teachers: Record<string, string>;
  prompts: Record<string, string>;
  /** Each evaluation task's data file, in the pipeline's order; empty for built-in items. */
  taskData: string[];
}

/** Resolves every reference; a world name that the world did not build names its line. */
export function resolvePaths(pipeline: Pipeline, world?: WorldOutput): ResolvedPaths {
  const problems: string[] = [];
  const resolve = (ref: Ref, kind: 'models' | 'prompts'): string => {
    if ('path' in ref) return ref.path;
    const found = world?.[kind][ref.world];
    if (!found) {
      const built = Object.keys(world?.[kind] ?? {}).join(', ') || 'none';
      problems.push(`${ref.where}: the world has no ${kind === 'models' ? 'model' : 'prompt set'} ` +
        `'${ref.world}' (it built: ${built})`);
      return '';
    }
    return found;
  };
  const resolved = {
    student: resolve(pipeline.student, 'models'),
    teachers: mapValues(pipeline.teachers, (r) => resolve(r, 'models')),
    prompts: mapValues(pipeline.prompts, (r) => resolve(r, 'prompts')),
    taskData: pipeline.evaluate.tasks.map((t) => (t.data ? resolve(t.data, 'prompts') : '')),
  };
  if (problems.length) throw new RunError('PIPELINE', problems.join('\n'));
  return resolved;
}

/** The folders a local stack must open for this pipeline: models, prompts, data, the world. */
export function pipelineFolders(pipeline: Pipeline): string[] {
  const folders = [pipeline.student, ...Object.values(pipeline.teachers)]
    .flatMap((r) => ('path' in r ? [r.path] : []));
  const files = [...Object.values(pipeline.prompts).flatMap((r) => ('path' in r ? [r.path] : [])),
    ...pipeline.evaluate.tasks.flatMap((t) => (t.data && 'path' in t.data ? [t.data.path] : []))];
  const all = [...folders, ...files.map((f) => path.dirname(f)),
    ...(pipeline.world ? [pipeline.world.cache] : [])];
  return [...new Set(all)];
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v)]));
}
