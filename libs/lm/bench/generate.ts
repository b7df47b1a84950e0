// Measures greedy generation throughput of @delta/lm at batch 1, 8 and 32 on a fixed ~10M
// parameter Llama (random weights, the 512-token test tokenizer), and of the transformers.js
// text-generation pipeline on the same exported model in the same run. Prints one JSON line
// per figure. The model is built once into .cache/lm-bench (gitignored) at the repository root.
//
// Run: npm run bench:generate   (options after --: --new-tokens N, --threads N, --repeat N)
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { env, pipeline } from '@huggingface/transformers';
import { LanguageModel, exportOnnx, writeRandomCheckpoint } from '../src/index.js';

const root = resolve(import.meta.dirname, '../../..');
const { values: args } = parseArgs({
  options: {
    'new-tokens': { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    repeat: { type: 'string', default: '3' },
  },
});
const newTokens = Number(args['new-tokens']);
const threads = Number(args.threads);
const repeat = Number(args.repeat);

/** The benchmark model: Llama layout, GQA 6/2, about 9.8M parameters. */
const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 512,
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  hidden_act: 'silu',
  bos_token_id: 0,
};
const SEED = 20250101;
const NAME = 'llama-10m-v1';
const cacheRoot = join(root, '.cache', 'lm-bench');
const dir = join(cacheRoot, NAME);

function buildModel(): void {
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) return;
  writeRandomCheckpoint(dir, CONFIG, SEED);
  copyFileSync(
    join(root, 'libs/lm/test/fixtures/tokenizer/tokenizer.json'),
    join(dir, 'tokenizer.json'),
  );
  // No end token anywhere: both runtimes generate exactly the requested number of tokens.
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: '<|begin_of_text|>',
      pad_token: '<|pad|>',
      add_bos_token: true,
    }),
  );
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ pad_token_id: 7 }));
  exportOnnx(dir);
}

function prompts(count: number): string[] {
  const file = resolve(root, '../shared/data/gsm8k/test.jsonl');
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  return lines.slice(0, count).map((l) => (JSON.parse(l) as { question: string }).question);
}

function report(runtime: string, batch: number, tokens: number, times: number[]): void {
  const sorted = [...times].sort((x, y) => x - y);
  const seconds = sorted[Math.floor(sorted.length / 2)]!;
  const line = {
    bench: 'generate',
    runtime,
    model: NAME,
    batch,
    new_tokens: newTokens,
    threads,
    runs: times.length,
    tokens,
    median_seconds: Number(seconds.toFixed(3)),
    tokens_per_second: Number((tokens / seconds).toFixed(1)),
  };
  console.log(JSON.stringify(line));
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, (performance.now() - t0) / 1000];
}

async function main(): Promise<void> {
  buildModel();
  const all = prompts(32);

  const lm = await LanguageModel.load(dir, { threads });
  env.allowRemoteModels = false;
  env.localModelPath = cacheRoot;
  const generator = await pipeline('text-generation', NAME, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads },
  });
  await lm.generate([{ prompt: all[0]!, maxNewTokens: 4 }]);
  await generator(all[0]!, { max_new_tokens: 4, do_sample: false });

  // The two runtimes alternate, so a busy machine slows both alike; medians of `repeat` runs.
  for (const batch of [1, 8, 32]) {
    const inputs = all.slice(0, batch);
    const ours: number[] = [];
    const theirs: number[] = [];
    let tokens = 0;
    let agree = true;
    for (let r = 0; r < repeat; r++) {
      const [out, s1] = await timed(() =>
        lm.generate(
          inputs.map((prompt) => ({ prompt, maxNewTokens: newTokens })),
          { batchSize: batch },
        ),
      );
      ours.push(s1);
      tokens = out.reduce((a, x) => a + x[0]!.completionTokens, 0);
      const [peer, s2] = await timed(() =>
        generator(inputs, { max_new_tokens: newTokens, do_sample: false, return_full_text: false }),
      );
      theirs.push(s2);
      const texts = (peer as unknown as { generated_text: string }[][]).map(
        (x) => x[0]!.generated_text,
      );
      agree &&= texts.every((t, i) => t === out[i]![0]!.text);
    }
    report('delta-lm', batch, tokens, ours);
    report('transformers.js', batch, batch * newTokens, theirs);
    console.log(JSON.stringify({ bench: 'generate', batch, greedy_texts_agree: agree }));
  }
  await lm.dispose();
  await generator.dispose();
}

await main();
