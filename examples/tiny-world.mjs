// A tiny "world" for examples/tiny.yaml and the end-to-end test: three Llama decoders with
// random weights (a student and two teachers), a byte-level tokenizer with a chat template,
// ONNX exports, a prompt file and an arithmetic evaluation file in GSM8K's format. It exercises
// every stage of a run in about a minute; the models write random bytes, so no score moves.
// It has the shape of @delta/world's buildWorld, which builds trained models instead.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportOnnx, writeRandomCheckpoint } from '@delta/lm';

const SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>',
  '<|end_header_id|>', '<|eot_id|>', '<|pad|>'];

const CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n' +
  '{{ m.content }}<|eot_id|>{% endfor %}' +
  '{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}';

/** The models: hidden width, layers and the seed of their random weights. */
const MODELS = {
  student: { hidden: 64, layers: 2, seed: 11 },
  strong: { hidden: 64, layers: 2, seed: 21 },
  weak: { hidden: 32, layers: 1, seed: 31 },
};

/** Byte-level BPE's printable stand-ins for the 256 byte values (GPT-2's mapping). */
function byteAlphabet() {
  const direct = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(direct(b) ? b : next++));
}

/** A tokenizer.json with one token per byte and no merges; its post-processor adds BOS. */
function tokenizerJson() {
  const vocab = {};
  SPECIALS.forEach((token, id) => { vocab[token] = id; });
  byteAlphabet().forEach((ch, b) => { vocab[ch] = SPECIALS.length + b; });
  const bos = SPECIALS[0];
  return {
    version: '1.0', truncation: null, padding: null, normalizer: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false,
      rstrip: false, normalized: false, special: true })),
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { [bos]: { id: bos, ids: [0], tokens: [bos] } } },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges: [] },
  };
}

/** Writes a random-weight Llama with the byte tokenizer into `dir` and exports it to ONNX. */
function writeModel(dir, { hidden, layers, seed }) {
  mkdirSync(dir, { recursive: true });
  writeRandomCheckpoint(dir, {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    vocab_size: SPECIALS.length + 256, hidden_size: hidden, intermediate_size: hidden * 2,
    num_hidden_layers: layers, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: false, hidden_act: 'silu', bos_token_id: 0, eos_token_id: 1,
  }, seed);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    bos_token: SPECIALS[0], eos_token: SPECIALS[1], pad_token: SPECIALS[5],
    chat_template: CHAT_TEMPLATE,
  }));
  writeFileSync(path.join(dir, 'generation_config.json'),
    JSON.stringify({ pad_token_id: 5, eos_token_id: [1, 4] }));
  exportOnnx(dir);
}

/** Two-step sums: a prompt file to pair on, and items in GSM8K's {question, answer} format. */
function writeArithmetic(dir, seed) {
  let state = (seed * 2654435761) >>> 0;
  const next = (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const item = () => {
    const [a, b, c] = [next(50), next(50), next(50)];
    return { question: `What is ${a} + ${b} + ${c}?`,
      answer: `${a} + ${b} = ${a + b}. ${a + b} + ${c} = ${a + b + c}.\n#### ${a + b + c}` };
  };
  const train = Array.from({ length: 24 }, (_, i) => ({ id: `train-${i}`, prompt: item().question }));
  const evaluation = Array.from({ length: 12 }, (_, i) => ({ id: `eval-${i}`, ...item() }));
  const lines = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  writeFileSync(path.join(dir, 'train.jsonl'), lines(train));
  writeFileSync(path.join(dir, 'arith-eval.jsonl'), lines(evaluation));
}

/**
 * Builds the world into `cacheDir`/seed-<seed> once; later calls find it there.
 * Returns { models: {name: folder}, prompts: {name: file}, tasks: [] }.
 */
export async function buildWorld({ seed = 0, cacheDir, onProgress = () => {} }) {
  const dir = path.join(cacheDir, `seed-${seed}`);
  const out = {
    models: Object.fromEntries(Object.keys(MODELS).map((name) => [name, path.join(dir, name)])),
    prompts: { train: path.join(dir, 'train.jsonl'), 'arith-eval': path.join(dir, 'arith-eval.jsonl') },
    tasks: [],
  };
  if (existsSync(path.join(dir, 'complete'))) {
    onProgress('tiny world found in its cache');
    return out;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, config] of Object.entries(MODELS)) {
    onProgress(`writing the random model ${name}`);
    writeModel(out.models[name], { ...config, seed: config.seed + seed });
  }
  writeArithmetic(dir, seed + 1);
  writeFileSync(path.join(dir, 'complete'), `${new Date().toISOString()}\n`);
  return out;
}
