// Measures how fast the evaluator's adapter runs tasks on ONNX Runtime: GSM8K items (greedy,
// fixed new tokens) and multiple-choice items (log-likelihood of four letters) per second at
// batch sizes 1, 8 and 32, on a ~10M-parameter Llama with random weights and the 512-token test
// tokenizer. Prints one JSON line per figure, and whether every batch size gave the same metrics.
// The model is built once into .cache/evaluator-bench (gitignored) at the repository root.
//
// Run: npm run bench -w @delta/evaluator   (options after --: --items N, --new-tokens N,
// --threads N)
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getTask, gsm8k, runTask, type Task, type TaskDoc } from '@delta/evals';
import { LanguageModel, exportOnnx, writeRandomCheckpoint } from '@delta/lm';
import { lmEvalModel } from '../src/lm-model.js';

const root = path.resolve(import.meta.dirname, '../../..');
const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '32' },
    'new-tokens': { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
  },
});
const count = Number(args.items);
const newTokens = Number(args['new-tokens']);
const threads = Number(args.threads);

/** Llama layout, GQA 6/2, about 9.8M parameters, a context long enough for GSM8K prompts. */
const CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 512, hidden_size: 384,
  intermediate_size: 1024, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 2,
  max_position_embeddings: 1024, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 0,
};
const dir = path.join(root, '.cache', 'evaluator-bench', 'llama-10m-chat-v1');

/** No end token: every reply runs to the new-token budget, so rows finish together. */
function buildModel(): void {
  if (existsSync(path.join(dir, 'onnx', 'model.onnx'))) return;
  writeRandomCheckpoint(dir, CONFIG, 20250101);
  copyFileSync(path.join(root, 'libs/lm/test/fixtures/tokenizer/tokenizer.json'),
    path.join(dir, 'tokenizer.json'));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    bos_token: '<|begin_of_text|>', pad_token: '<|pad|>',
    chat_template: '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}' +
      '<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}',
  }));
  writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ pad_token_id: 7 }));
  exportOnnx(dir);
}

/** The multiple-choice fixture repeated under new ids until there are `n` items. */
async function choiceItems(task: Task, n: number): Promise<TaskDoc[]> {
  const docs = await task.load(path.join(root, 'services/evaluator/test/fixtures/mc.jsonl'));
  return Array.from({ length: n }, (_, i) => ({ ...docs[i % docs.length]!, id: `c${i}` }));
}

async function measure(
  lm: LanguageModel,
  task: Task,
  docs: TaskDoc[],
  label: string,
): Promise<void> {
  const metrics: string[] = [];
  for (const batch of [1, 8, 32]) {
    let tokens = 0;
    const model = lmEvalModel(lm, { onBatch: (f) => (tokens += f.outputTokens || f.inputTokens) });
    const started = performance.now();
    const run = await runTask(model, task, docs, {
      batchSize: batch, sampling: { maxNewTokens: newTokens },
    });
    const seconds = (performance.now() - started) / 1000;
    metrics.push(JSON.stringify(run.result));
    console.log(JSON.stringify({
      bench: 'evaluate', task: label, batch, items: docs.length, seconds: +seconds.toFixed(3),
      items_per_s: +(docs.length / seconds).toFixed(2),
      [task.kind === 'generation' ? 'output_tokens_per_s' : 'scored_tokens_per_s']:
        Math.round(tokens / seconds),
    }));
  }
  console.log(JSON.stringify({
    bench: 'evaluate', task: label, same_metrics_at_every_batch: new Set(metrics).size === 1,
  }));
}

buildModel();
const lm = await LanguageModel.load(dir, { threads, executionProvider: 'cpu' });
const gsmFile = path.resolve(root, '../shared/data/gsm8k/test.jsonl');
const gsmDocs = (await gsm8k.load(gsmFile)).slice(0, count);
await measure(lm, gsm8k, gsmDocs, `gsm8k (${newTokens} new tokens)`);
const mmlu = getTask('mmlu');
await measure(lm, mmlu, await choiceItems(mmlu, count), 'mmlu (4 choices)');
await lm.dispose();
