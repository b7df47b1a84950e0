// Picks the next token from one row of logits: greedy, or temperature / top-k / top-p sampling
// with a generator owned by one (request, sample). Nothing here is shared between sequences,
// so what a sequence draws never depends on what else is in the batch.

/** How to draw tokens. Zero temperature means greedy; topK 0 and topP 1 disable those filters. */
export interface SamplingParams {
  temperature?: number;
  topK?: number;
  topP?: number;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * xoshiro128** seeded from a 64-bit request seed and a sample index, so sample i of a request
 * always draws the same numbers.
 */
export class SeededRng {
  private readonly s = new Uint32Array(4);

  constructor(seed: bigint, sampleIndex: number) {
    const lo = Number(BigInt.asUintN(32, seed));
    const hi = Number(BigInt.asUintN(32, seed >> 32n));
    const state = { s: (lo ^ Math.imul(sampleIndex + 1, 0x632be5ab)) >>> 0 };
    this.s[0] = splitmix32(state) ^ hi;
    this.s[1] = splitmix32(state);
    this.s[2] = splitmix32(state) ^ sampleIndex;
    this.s[3] = splitmix32(state);
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** A uniform 32-bit integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A uniform number in [0, 1) with 53 random bits. */
  next(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Index of the largest logit; the lowest index wins a tie. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** True when the params ask for greedy decoding. */
export function isGreedy(params: SamplingParams): boolean {
  return !params.temperature || params.temperature <= 0;
}

/**
 * Draws one token. Temperature scales the logits, top-k then keeps the k best, top-p then keeps
 * the smallest set of best tokens whose probability reaches p (always at least one).
 */
export function sampleToken(
  logits: ArrayLike<number>,
  params: SamplingParams,
  rng: SeededRng,
): number {
  if (isGreedy(params)) return argmax(logits);
  const temperature = params.temperature!;
  const V = logits.length;
  const topK = params.topK && params.topK > 0 && params.topK < V ? params.topK : V;
  const topP = params.topP && params.topP > 0 && params.topP < 1 ? params.topP : 1;

  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]!);

  // With a filter, candidates are sorted best first (ties by index, so the order is fully
  // determined). Tokens whose weight is below e^-30 of the best's are left out before sorting:
  // together they hold under V * e^-30 of the probability (1e-8 for a 150k vocabulary).
  let candidates: number[];
  if (topK === V && topP === 1) {
    candidates = Array.from({ length: V }, (_, i) => i);
  } else {
    const floor = max - 30 * temperature;
    candidates = [];
    for (let i = 0; i < V; i++) if (logits[i]! >= floor) candidates.push(i);
    candidates.sort((a, b) => logits[b]! - logits[a]! || a - b);
    if (candidates.length > topK) candidates.length = topK;
  }

  const weights = new Float64Array(candidates.length);
  let total = 0;
  for (let j = 0; j < candidates.length; j++) {
    weights[j] = Math.exp((logits[candidates[j]!]! - max) / temperature);
    total += weights[j]!;
  }

  let keep = candidates.length;
  if (topP < 1) {
    let cumulative = 0;
    for (let j = 0; j < candidates.length; j++) {
      cumulative += weights[j]! / total;
      if (cumulative >= topP) {
        keep = j + 1;
        break;
      }
    }
    total = 0;
    for (let j = 0; j < keep; j++) total += weights[j]!;
  }

  let u = rng.next() * total;
  for (let j = 0; j < keep; j++) {
    u -= weights[j]!;
    if (u < 0) return candidates[j]!;
  }
  return candidates[keep - 1]!;
}
