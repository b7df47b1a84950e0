// Seeded random draws for the world's generators and trainers: integers, choices, shuffles and
// independent child streams named by a label. Not for anything that needs cryptographic strength.
import { mulberry32 } from '@delta/evals';

/** A seeded stream: the same seed (and labels) gives the same draws on every machine. */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** A stream of its own for `label`, so adding draws in one place never shifts another. */
  static derive(seed: number, label: string): Rng {
    let h = 2166136261 ^ (seed >>> 0);
    for (const ch of label) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    h = Math.imul(h ^ (h >>> 15), 2246822507);
    return new Rng((h ^ (h >>> 13)) >>> 0);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
