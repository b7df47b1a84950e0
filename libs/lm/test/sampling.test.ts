// Sampling: seeded generators are reproducible per (seed, sample), and temperature, top-k and
// top-p shape the distribution as specified.
import { describe, expect, it } from 'vitest';
import { SeededRng, argmax, sampleToken } from '../src/index.js';

const logits = Float32Array.of(2.0, 1.0, 0.5, 0.0, -1.0, 3.0);

function frequencies(params: Parameters<typeof sampleToken>[1], draws: number): number[] {
  const rng = new SeededRng(42n, 0);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampleToken(logits, params, rng)]!++;
  return counts.map((c) => c / draws);
}

function softmax(xs: number[], t: number): number[] {
  const e = xs.map((x) => Math.exp(x / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe('sampling', () => {
  it('repeats a stream for the same seed and sample, and differs across samples and seeds', () => {
    const draw = (seed: bigint, sample: number): number[] => {
      const rng = new SeededRng(seed, sample);
      return Array.from({ length: 8 }, () => rng.nextUint32());
    };
    expect(draw(7n, 0)).toEqual(draw(7n, 0));
    expect(draw(7n, 1)).not.toEqual(draw(7n, 0));
    expect(draw(8n, 0)).not.toEqual(draw(7n, 0));
    expect(draw(2n ** 63n + 7n, 0)).not.toEqual(draw(7n, 0));
    const u = new SeededRng(1n, 0).next();
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
  });

  it('is greedy at temperature 0, with top-k 1 and with a tiny top-p', () => {
    const rng = new SeededRng(1n, 0);
    expect(argmax(logits)).toBe(5);
    expect(sampleToken(logits, {}, rng)).toBe(5);
    for (let i = 0; i < 50; i++) {
      expect(sampleToken(logits, { temperature: 1, topK: 1 }, rng)).toBe(5);
      expect(sampleToken(logits, { temperature: 1, topP: 0.01 }, rng)).toBe(5);
    }
  });

  it('draws from softmax(logits / temperature)', () => {
    const f = frequencies({ temperature: 2 }, 40000);
    softmax(Array.from(logits), 2).forEach((p, i) =>
      expect(Math.abs(f[i]! - p)).toBeLessThan(0.01),
    );
  });

  it('keeps only the k best tokens with top-k, renormalised', () => {
    const f = frequencies({ temperature: 1, topK: 2 }, 40000);
    const p = softmax([3.0, 2.0], 1);
    expect(f[5]).toBeCloseTo(p[0]!, 1);
    expect(f[0]).toBeCloseTo(p[1]!, 1);
    expect(f[1]! + f[2]! + f[3]! + f[4]!).toBe(0);
  });

  it('keeps the smallest set reaching p with top-p', () => {
    // Probabilities at T=1: token 5 0.61, token 0 0.22, token 1 0.08 ... top-p 0.8 keeps {5, 0}.
    const f = frequencies({ temperature: 1, topP: 0.8 }, 40000);
    expect(f[5]! + f[0]!).toBe(1);
    expect(f[0]).toBeGreaterThan(0.2);
  });
});
