// A real, tiny language model for runner tests that need no ONNX Runtime: the llama2.c
// stories260K checkpoint, a Llama forward pass with a KV cache, and a byte-level tokenizer
// (the checkpoint ships none), so replies are not English but every number is a real network's.
import { readFileSync } from 'node:fs';

import type { GenerationResult, LogLikelihoodResult, SamplingParams, TextModel } from '../../src/index.js';

/** Shapes: D model width, H hidden width, L layers, NH query heads, NKV key/value heads, V vocab. */
interface Config {
  D: number;
  H: number;
  L: number;
  NH: number;
  NKV: number;
  V: number;
  T: number;
}

interface Weights {
  embed: Float32Array;
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  ffnNorm: Float32Array;
  w1: Float32Array;
  w2: Float32Array;
  w3: Float32Array;
  finalNorm: Float32Array;
}

const BOS = 1;
const EOS = 2;

/** Loads a llama2.c legacy checkpoint (header of 7 int32, then float32 weights). */
function load(file: string): { c: Config; w: Weights } {
  const buf = readFileSync(file);
  const header = new Int32Array(buf.buffer, buf.byteOffset, 7);
  const [D, H, L, NH, NKV, vocab, T] = [...header] as number[];
  const c: Config = { D: D!, H: H!, L: L!, NH: NH!, NKV: NKV!, V: Math.abs(vocab!), T: T! };
  const floats = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.length));
  let at = 0;
  const take = (n: number) => floats.subarray(at, (at += n));
  const kv = (c.D / c.NH) * c.NKV;
  const w: Weights = {
    embed: take(c.V * c.D),
    attnNorm: take(c.L * c.D),
    wq: take(c.L * c.D * c.D),
    wk: take(c.L * kv * c.D),
    wv: take(c.L * kv * c.D),
    wo: take(c.L * c.D * c.D),
    ffnNorm: take(c.L * c.D),
    w1: take(c.L * c.H * c.D),
    w2: take(c.L * c.D * c.H),
    w3: take(c.L * c.H * c.D),
    finalNorm: take(c.D),
  };
  return { c, w };
}

function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / x.length + 1e-5);
  for (let i = 0; i < x.length; i++) out[i] = weight[i]! * x[i]! * scale;
}

/** out[rows] = W[rows, cols] @ x[cols], W row-major as [out_features, in_features]. */
function matvec(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let k = 0; k < cols; k++) sum += w[base + k]! * x[k]!;
    out[r] = sum;
  }
}

/** llama2.c's RoPE: rotates adjacent pairs within each head, theta 10000. */
function rope(vec: Float32Array, pos: number, headSize: number): void {
  for (let i = 0; i < vec.length; i += 2) {
    const freq = 1 / Math.pow(10000, (i % headSize) / headSize);
    const cos = Math.cos(pos * freq);
    const sin = Math.sin(pos * freq);
    const a = vec[i]!;
    const b = vec[i + 1]!;
    vec[i] = a * cos - b * sin;
    vec[i + 1] = a * sin + b * cos;
  }
}

/** One sequence's state: its key/value cache and position. */
class Sequence {
  pos = 0;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];

  constructor(c: Config) {
    const kv = (c.D / c.NH) * c.NKV;
    this.keys = Array.from({ length: c.L }, () => new Float32Array(c.T * kv));
    this.values = Array.from({ length: c.L }, () => new Float32Array(c.T * kv));
  }
}

/** The stories260K network; `step` feeds one token and returns next-token log-probs. */
class Llama {
  constructor(private readonly c: Config, private readonly w: Weights) {}

  step(seq: Sequence, token: number): Float32Array {
    const { c, w } = this;
    const hs = c.D / c.NH;
    const kvDim = hs * c.NKV;
    if (seq.pos >= c.T) throw new RangeError(`sequence longer than ${c.T} tokens`);
    const x = Float32Array.from(w.embed.subarray(token * c.D, (token + 1) * c.D));
    const xb = new Float32Array(c.D);
    const q = new Float32Array(c.D);
    const att = new Float32Array(c.D);
    const h1 = new Float32Array(c.H);
    const h3 = new Float32Array(c.H);
    const tmp = new Float32Array(c.D);

    for (let l = 0; l < c.L; l++) {
      rmsnorm(xb, x, w.attnNorm.subarray(l * c.D, (l + 1) * c.D));
      matvec(q, w.wq.subarray(l * c.D * c.D), xb, c.D, c.D);
      const k = seq.keys[l]!.subarray(seq.pos * kvDim, (seq.pos + 1) * kvDim);
      const v = seq.values[l]!.subarray(seq.pos * kvDim, (seq.pos + 1) * kvDim);
      matvec(k, w.wk.subarray(l * kvDim * c.D), xb, kvDim, c.D);
      matvec(v, w.wv.subarray(l * kvDim * c.D), xb, kvDim, c.D);
      rope(q, seq.pos, hs);
      rope(k, seq.pos, hs);

      for (let h = 0; h < c.NH; h++) {
        const kvh = Math.floor(h / (c.NH / c.NKV));
        const scores = new Float32Array(seq.pos + 1);
        let max = -Infinity;
        for (let t = 0; t <= seq.pos; t++) {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[h * hs + i]! * seq.keys[l]![t * kvDim + kvh * hs + i]!;
          scores[t] = s / Math.sqrt(hs);
          max = Math.max(max, scores[t]!);
        }
        let sum = 0;
        for (let t = 0; t <= seq.pos; t++) sum += (scores[t] = Math.exp(scores[t]! - max));
        for (let i = 0; i < hs; i++) {
          let acc = 0;
          for (let t = 0; t <= seq.pos; t++) acc += scores[t]! * seq.values[l]![t * kvDim + kvh * hs + i]!;
          att[h * hs + i] = acc / sum;
        }
      }
      matvec(tmp, w.wo.subarray(l * c.D * c.D), att, c.D, c.D);
      for (let i = 0; i < c.D; i++) x[i]! += tmp[i]!;

      rmsnorm(xb, x, w.ffnNorm.subarray(l * c.D, (l + 1) * c.D));
      matvec(h1, w.w1.subarray(l * c.H * c.D), xb, c.H, c.D);
      matvec(h3, w.w3.subarray(l * c.H * c.D), xb, c.H, c.D);
      for (let i = 0; i < c.H; i++) h1[i] = (h1[i]! / (1 + Math.exp(-h1[i]!))) * h3[i]!;
      matvec(tmp, w.w2.subarray(l * c.D * c.H), h1, c.D, c.H);
      for (let i = 0; i < c.D; i++) x[i]! += tmp[i]!;
    }

    rmsnorm(xb, x, w.finalNorm);
    const logits = new Float32Array(c.V);
    matvec(logits, w.embed, xb, c.V, c.D);
    seq.pos++;
    return logSoftmax(logits);
  }
}

function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return logits.map((v) => v - lse);
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Bytes of UTF-8 text as ids 3..258 (0-2 are unk, BOS, EOS in llama2.c's vocabulary). */
function encode(text: string): number[] {
  return [...Buffer.from(text, 'utf8')].map((b) => b + 3);
}

function decode(ids: number[]): string {
  return ids.map((id) => (id >= 3 && id < 259 ? String.fromCharCode(id - 3) : `<${id}>`)).join('');
}

/**
 * stories260K as a TextModel. Prompts are cut to their last `maxPromptTokens` bytes to keep
 * within the model's 512-token context. Each call records the batch sizes it was handed.
 */
export function stories260k(file: string, maxPromptTokens = 64): TextModel & { batches: number[] } {
  const { c, w } = load(file);
  const model = new Llama(c, w);
  const prefill = (seq: Sequence, ids: number[]) => {
    let logprobs = model.step(seq, BOS);
    for (const id of ids) logprobs = model.step(seq, id);
    return logprobs;
  };
  const batches: number[] = [];

  return {
    name: 'stories260k',
    batches,
    async complete(prompts: readonly { prompt: string; sampling: SamplingParams }[]) {
      batches.push(prompts.length);
      // The batch advances one token per step across all its unfinished sequences.
      const rows = prompts.map(({ prompt, sampling }) => {
        const seq = new Sequence(c);
        return { seq, logprobs: prefill(seq, encode(prompt).slice(-maxPromptTokens)), out: [] as number[],
          max: sampling.maxNewTokens ?? 16, stop: sampling.stop ?? [], done: undefined as GenerationResult | undefined };
      });
      while (rows.some((r) => !r.done)) {
        for (const r of rows) {
          if (r.done) continue;
          const next = argmax(r.logprobs);
          if (next === EOS) {
            r.done = { text: decode(r.out), finishReason: 'stop' };
            continue;
          }
          r.out.push(next);
          const text = decode(r.out);
          const hit = r.stop.find((s) => text.includes(s));
          if (hit) r.done = { text: text.slice(0, text.indexOf(hit)), finishReason: 'stop' };
          else if (r.out.length >= r.max) r.done = { text, finishReason: 'length' };
          else r.logprobs = model.step(r.seq, next);
        }
      }
      return rows.map((r) => r.done!);
    },
    async score(pairs: readonly { context: string; continuation: string }[]) {
      batches.push(pairs.length);
      return pairs.map(({ context, continuation }): LogLikelihoodResult => {
        const seq = new Sequence(c);
        let logprobs = prefill(seq, encode(context).slice(-maxPromptTokens));
        let total = 0;
        let isGreedy = true;
        for (const id of encode(continuation)) {
          total += logprobs[id]!;
          isGreedy &&= argmax(logprobs) === id;
          logprobs = model.step(seq, id);
        }
        return { logprob: total, isGreedy };
      });
    },
  };
}
