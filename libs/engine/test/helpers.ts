// Shared test fixtures: paths to the repository's shared data and goldens, a deterministic
// toy preference set, and small comparison helpers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { PromptPair } from '../src/index.js';

export const engineRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(engineRoot, '../..');
export const stories260k = path.resolve(repoRoot, '../shared/models/stories260k/stories260K.bin');
export const fixture = (name: string) => path.join(engineRoot, 'test/fixtures', name);

export function golden<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(engineRoot, 'test/golden', name), 'utf8')) as T;
}

/** A small linear-congruential generator, so toy data is the same on every run. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Toy preferences over a vocabulary of `vocab`: the chosen response continues the prompt's
 * last token upward (t+1, t+2, ...); the rejected one is random tokens. Lengths vary.
 */
export function toyPairs(n: number, vocab: number, seed: number): PromptPair[] {
  const rnd = lcg(seed);
  const tok = () => 3 + Math.floor(rnd() * (vocab - 3));
  return Array.from({ length: n }, () => {
    const prompt = [1, ...Array.from({ length: 1 + Math.floor(rnd() * 5) }, tok)];
    const last = prompt[prompt.length - 1]!;
    const len = 2 + Math.floor(rnd() * 4);
    const chosen = Array.from({ length: len }, (_, i) => 3 + ((last - 3 + i + 1) % (vocab - 3)));
    const rejected = Array.from({ length: 2 + Math.floor(rnd() * 4) }, tok);
    return { prompt, chosen, rejected };
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
