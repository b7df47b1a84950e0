// Checkpoint files: Hugging Face folders save and load bit-exactly (one file or shards),
// bfloat16 saves round, llama2.c files convert, and malformed or unsupported inputs fail with
// an EngineError that names the file and field.
import { mkdtemp, readFile, writeFile, copyFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError, engineBackends, Model, parseHfConfig, presets } from '../src/index.js';
import { fixture } from './helpers.js';

const dirs: string[] = [];
async function scratch(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'delta-engine-io-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function bits(model: Model): Buffer[] {
  return model.parameters().map((p) => Buffer.from(model.readParameter(p.name).buffer));
}

async function expectEngineError(p: Promise<unknown>, code: string, message: RegExp) {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(EngineError);
  expect((err as EngineError).code).toBe(code);
  expect((err as EngineError).message).toMatch(message);
}

describe('save and load', () => {
  it.each([
    ['one file', {}],
    ['shards', { maxShardBytes: 20_000 }],
  ])('round-trips every weight bit-exactly as %s', async (_, options) => {
    const config = { ...presets.tiny, architecture: 'qwen2', qkvBias: true, tieWordEmbeddings: true } as const;
    const model = Model.random(config, { seed: 4, threads: 1 });
    const dir = await scratch();
    await model.save(dir, options);
    const again = await Model.load(dir, { threads: 1 });
    expect(again.config).toEqual(model.config);
    const a = bits(model), b = bits(again);
    a.forEach((x, i) => expect(x.equals(b[i]!)).toBe(true));
  });

  it('saves a loaded Hugging Face checkpoint back to the same weights and config keys', async () => {
    const model = await Model.load(fixture('mistral'), { threads: 1 });
    const dir = await scratch();
    await model.save(dir);
    const raw = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(raw.sliding_window).toBe(4);
    expect(raw.architectures).toEqual(['MistralForCausalLM']);
    const again = await Model.load(dir, { threads: 1 });
    const a = bits(model), b = bits(again);
    a.forEach((x, i) => expect(x.equals(b[i]!)).toBe(true));
  });

  it('rounds to nearest in a bfloat16 save', async () => {
    const model = Model.random(presets.tiny, { seed: 4, threads: 1 });
    const dir = await scratch();
    await model.save(dir, { dtype: 'bfloat16' });
    const again = await Model.load(dir, { threads: 1 });
    const w = model.readParameter('model.layers.0.mlp.up_proj.weight');
    const r = again.readParameter('model.layers.0.mlp.up_proj.weight');
    for (let i = 0; i < w.length; i++) {
      expect(Math.abs(r[i]! - w[i]!)).toBeLessThanOrEqual(Math.abs(w[i]!) * 2 ** -8);
      expect(new Uint32Array(r.buffer)[i]! & 0xffff).toBe(0);
    }
  });
});

describe('bad checkpoints', () => {
  async function copyOf(name: string): Promise<string> {
    const dir = await scratch();
    for (const f of ['config.json', 'model.safetensors']) {
      await copyFile(path.join(fixture(name), f), path.join(dir, f));
    }
    return dir;
  }

  it('rejects an unknown architecture by name', async () => {
    const dir = await copyOf('llama3');
    const raw = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const gpt2 = { ...raw, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' };
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(gpt2));
    await expectEngineError(Model.load(dir), 'UNSUPPORTED', /"GPT2LMHeadModel" is not supported/);
  });

  it('rejects unsupported RoPE scaling and activations', () => {
    const base = {
      architectures: ['LlamaForCausalLM'], vocab_size: 8, hidden_size: 8, intermediate_size: 8,
      num_hidden_layers: 1, num_attention_heads: 2,
    };
    const yarn = { ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } };
    expect(() => parseHfConfig(yarn)).toThrow(/rope_type "yarn" is not supported/);
    expect(() => parseHfConfig({ ...base, hidden_act: 'gelu' })).toThrow(/hidden_act/);
    expect(() => parseHfConfig({ ...base, hidden_size: undefined })).toThrow(/"hidden_size" is missing/);
  });

  it('rejects a folder without weights, and config.json that is not JSON', async () => {
    const dir = await scratch();
    await writeFile(path.join(dir, 'config.json'), '{"architectures": ["LlamaForCausalLM"],');
    await expectEngineError(Model.load(dir), 'INVALID_MODEL', /config.json is not valid JSON/);
    await copyFile(path.join(fixture('llama3'), 'config.json'), path.join(dir, 'config.json'));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL',
      /expected model.safetensors or model.safetensors.index.json/);
  });

  it('rejects a truncated safetensors file', async () => {
    const dir = await copyOf('llama3');
    const file = path.join(dir, 'model.safetensors');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 100));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL', /points past the end of the file/);
    await writeFile(file, bytes.subarray(0, 20));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL', /header length \d+ does not fit/);
  });

  it('rejects weights whose shapes or names do not match config.json', async () => {
    const dir = await copyOf('llama3');
    const raw = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...raw, intermediate_size: 48 }));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL',
      /"model.layers.0.mlp.gate_proj.weight" has shape \[64,32\], config.json implies \[48,32\]/);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...raw, num_hidden_layers: 1 }));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL', /unexpected tensor "model.layers.1/);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...raw, num_hidden_layers: 3 }));
    await expectEngineError(Model.load(dir), 'INVALID_MODEL',
      /tensor "model.layers.2.input_layernorm.weight" is missing/);
  });

  it('rejects a sharded index that names a missing shard', async () => {
    const dir = await scratch();
    await copyFile(path.join(fixture('mistral'), 'config.json'), path.join(dir, 'config.json'));
    const index = 'model.safetensors.index.json';
    await copyFile(path.join(fixture('mistral'), index), path.join(dir, index));
    await expectEngineError(Model.load(dir), 'IO', /reading .*model-0000[1-3]-of-00003.safetensors/);
  });

  it('rejects a llama2.c file that ends early', async () => {
    const dir = await scratch();
    await mkdir(dir, { recursive: true });
    const header = Buffer.alloc(28);
    [64, 172, 5, 8, 4, 512, 512].forEach((v, i) => header.writeInt32LE(v, 4 * i));
    const file = path.join(dir, 'short.bin');
    await writeFile(file, Buffer.concat([header, Buffer.alloc(4000)]));
    await expectEngineError(Model.fromLlama2c(file), 'INVALID_MODEL', /ends before all weights are read/);
  });
});

describe('native errors', () => {
  it('come from an addon that names its devices', () => {
    expect(engineBackends()).toEqual(['cpu']);
  });

  it('arrive as EngineError with the position at fault', async () => {
    const model = Model.random(presets.tiny, { seed: 1, threads: 1 });
    await expectEngineError(model.logits({ inputIds: [[1, 2, 999]] }), 'INVALID_ARGUMENT',
      /token id 999 at sequence 0, position 2 is outside the vocabulary/);
  });

  it('refuse a second call while one is running', async () => {
    const model = Model.random(presets.tiny, { seed: 1, threads: 1 });
    const first = model.logits({ inputIds: [[1, 2, 3]] });
    expect(() => model.readParameter('model.norm.weight')).toThrow(/busy/);
    await first;
    expect(model.readParameter('model.norm.weight')).toHaveLength(32);
  });
});
