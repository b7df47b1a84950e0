// Benchmark of one DPO optimizer step on the ~20M-parameter Llama preset: 8 pairs of
// 256-token sequences (128 prompt + 128 response tokens each side), length-normalised DPO,
// AdamW. Prints one JSON line (tokens_per_s, gflops, peak_rss_mb, ...) and one for people.
// Figures are medians over the measured steps; the CPU is shared, so repeat runs vary.
import { availableParallelism } from 'node:os';
import { Model } from './model.js';
import { presets } from './config.js';
import { referenceLogProbs } from './reference.js';
import { Trainer } from './trainer.js';
import type { PreferencePair } from './batch.js';

const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const steps = Number(process.env.BENCH_STEPS ?? 5);
const pairsPerBatch = 8;
const promptTokens = 128;
const responseTokens = 128;

function randomPairs(vocab: number): PreferencePair[] {
  let s = 12345;
  const tok = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % (vocab - 3));
  };
  return Array.from({ length: pairsPerBatch }, () => ({
    prompt: [1, ...Array.from({ length: promptTokens - 1 }, tok)],
    chosen: Array.from({ length: responseTokens }, tok),
    rejected: Array.from({ length: responseTokens }, tok),
  }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const config = presets.llama20m;
  const model = Model.random(config, { seed: 1, threads });
  const pairs = randomPairs(config.vocabSize);
  const reference = (await referenceLogProbs(model, pairs, { tokenization: 'bench' })).values;
  const trainer = new Trainer(model, {
    loss: { type: 'dpo_norm', beta: 5 },
    optimizer: { lr: 5e-7 },
    schedule: { type: 'cosine_min_lr', totalSteps: steps + 1, minLrRatio: 0.1 },
    microBatchSize: pairsPerBatch,
    maxLength: promptTokens + responseTokens,
  });

  await trainer.step({ pairs, reference }); // warm-up: thread pools and page faults
  const seconds: number[] = [];
  const flops: number[] = [];
  let tokens = 0;
  for (let i = 0; i < steps; i++) {
    const m = await trainer.step({ pairs, reference });
    seconds.push(m.seconds);
    flops.push(m.matmulFlops);
    tokens = m.tokens;
  }
  const t = median(seconds);
  const result = {
    bench: 'engine.dpo_step',
    model: 'llama20m',
    params: model.numParameters,
    threads,
    pairs: pairsPerBatch,
    seq_len: promptTokens + responseTokens,
    steps,
    step_s: Number(t.toFixed(4)),
    tokens_per_s: Math.round(tokens / t),
    gflops: Number((median(flops) / t / 1e9).toFixed(1)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  process.stdout.write(
    `DPO step, ${(result.params / 1e6).toFixed(1)}M-param Llama, ${pairsPerBatch} pairs x ` +
      `${result.seq_len} tokens, ${threads} threads: ${result.tokens_per_s} tokens/s, ` +
      `${result.gflops} GFLOP/s (matmul), ${result.step_s} s/step, ` +
      `peak RSS ${result.peak_rss_mb} MB\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
