// buildWorld: the entry point `delta run` calls for a pipeline's `world:` section. It draws the
// data sets, trains and checks the ladder, writes the prompt files, and caches all of it under
// a key of the recipe, seed, thread count and engine version, so a second call returns at once.
// Builds go to a scratch folder renamed into place, so a killed build leaves no half a cache.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { worldData, type WorldData } from './data.js';
import { WorldError } from './errors.js';
import { buildLadder, type LadderCheck, type WorldProgress } from './ladder.js';
import { checkRecipe, DEFAULT_RECIPE, recipeKey, RUNG_NAMES, type WorldRecipe } from './recipe.js';

/** What a built world offers a pipeline (the shape `delta run` reads), and its ladder check. */
export interface WorldOutput {
  /** Model folders by name: weak, strong (the teachers) and student. */
  models: Record<string, string>;
  /** Prompt files by name: arith-eval, arith-pairs, sections-eval, sections-pairs. */
  prompts: Record<string, string>;
  /** Evaluation tasks of @delta/evals the prompt files are for. */
  tasks: string[];
  /** The ladder's measured figures and whether it passed its check. */
  ladder: LadderCheck;
  /** The cache folder and whether this call found the world there. */
  dir: string;
  cached: boolean;
  /** Seconds the build took (0 when cached). */
  buildSeconds: number;
}

/** Options of buildWorld; only cacheDir is required. */
export interface BuildWorldOptions {
  seed?: number;
  cacheDir: string;
  onProgress?: (event: WorldProgress) => void;
  recipe?: WorldRecipe;
  /**
   * Engine threads (default 2). Results are bit-reproducible for a given count, so it is part
   * of the cache key.
   */
  threads?: number;
}

/** The version of @delta/engine this process loads, for the cache key. */
export function engineVersion(): string {
  const entry = fileURLToPath(import.meta.resolve('@delta/engine'));
  const pkg = path.join(path.dirname(entry), '..', 'package.json');
  return String((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version);
}

const PROMPT_FILES = {
  'arith-eval': 'prompts/arith-eval.jsonl',
  'arith-pairs': 'prompts/arith-pairs.jsonl',
  'sections-eval': 'prompts/sections-eval.jsonl',
  'sections-pairs': 'prompts/sections-pairs.jsonl',
} as const;

/** Builds the world into `cacheDir/<key>` once; later calls with the same inputs read it. */
export async function buildWorld(options: BuildWorldOptions): Promise<WorldOutput> {
  const recipe = options.recipe ?? DEFAULT_RECIPE;
  checkRecipe(recipe);
  const seed = options.seed ?? 0;
  const threads = options.threads ?? 2;
  const key = recipeKey(recipe, seed, `${engineVersion()}/threads=${threads}`).slice(0, 16);
  const dir = path.resolve(options.cacheDir, `world-${key}`);
  const manifest = path.join(dir, 'world.json');
  const progress = options.onProgress ?? (() => {});

  if (existsSync(manifest)) {
    progress({ stage: `world found in its cache (${dir})` });
    const found = JSON.parse(readFileSync(manifest, 'utf8')) as Manifest;
    announce(found.ladder, progress);
    return outputOf(dir, found, true);
  }

  const started = performance.now();
  const scratch = `${dir}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.join(scratch, 'prompts'), { recursive: true });
  progress({ stage: 'drawing the data sets' });
  const data = worldData(recipe, seed);
  writePromptFiles(scratch, data);
  const ladder = await buildLadder({ recipe, data, seed, dir: scratch, threads,
    onProgress: progress });
  const record: Manifest = {
    seed, threads, key, engine: engineVersion(), recipe, ladder,
    buildSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
  writeFileSync(path.join(scratch, 'world.json'), `${JSON.stringify(record, null, 2)}\n`);
  try {
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
  } catch (err) {
    throw new WorldError('CACHE', `cannot move the built world into ${dir}: ` +
      `${(err as Error).message}`, { cause: err });
  }
  announce(ladder, progress);
  return outputOf(dir, record, false);
}

/** States the ladder check through the progress callback: the verdict, then each finding. */
function announce(ladder: LadderCheck, progress: (event: WorldProgress) => void): void {
  progress({ stage: `the ladder ${ladder.passed ? 'passed' : 'FAILED'} its check` });
  for (const line of ladder.findings) progress({ stage: line });
}

interface Manifest {
  seed: number;
  threads: number;
  key: string;
  engine: string;
  recipe: WorldRecipe;
  ladder: LadderCheck;
  buildSeconds: number;
}

function outputOf(dir: string, m: Manifest, cached: boolean): WorldOutput {
  return {
    models: Object.fromEntries(RUNG_NAMES.map((name) => [name, path.join(dir, name)])),
    prompts: Object.fromEntries(Object.entries(PROMPT_FILES)
      .map(([name, file]) => [name, path.join(dir, file)])),
    tasks: ['arith', 'sections'],
    ladder: m.ladder,
    dir,
    cached,
    buildSeconds: cached ? 0 : m.buildSeconds,
  };
}

/** One JSON object per line: id, prompt, task and (for arithmetic) the worked solution. */
function writePromptFiles(dir: string, data: WorldData): void {
  const write = (name: keyof typeof PROMPT_FILES, rows: object[]) =>
    writeFileSync(path.join(dir, PROMPT_FILES[name]),
      rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const pad = (i: number, n: number) => String(i).padStart(String(n - 1).length, '0');
  const arith = (set: 'eval' | 'pair', items: WorldData['arith']['pairs']) =>
    items.map((x, i) => ({ id: `arith-${set}-${pad(i, items.length)}`, prompt: x.prompt,
      task: 'arith', reference: x.solution }));
  const sections = (set: 'eval' | 'pair', prompts: string[]) =>
    prompts.map((prompt, i) => ({ id: `sections-${set}-${pad(i, prompts.length)}`, prompt,
      task: 'sections' }));
  write('arith-eval', arith('eval', data.arith.evaluation));
  write('arith-pairs', arith('pair', data.arith.pairs));
  write('sections-eval', sections('eval', data.sections.evaluation));
  write('sections-pairs', sections('pair', data.sections.train));
}
