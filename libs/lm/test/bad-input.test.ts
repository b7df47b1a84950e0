// Bad model folders: every missing or wrong file is an LmError naming the file (and field) at
// fault, with the code a service maps to a status.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LanguageModel,
  LmError,
  exportOnnx,
  loadModelFiles,
  writeRandomCheckpoint,
} from '../src/index.js';
import { DataType, encodeModel, type ModelSpec } from '../src/onnx/proto.js';
import { TINY, tempDir, tinyModelFolder } from './helpers.js';

async function failure(fn: () => unknown): Promise<LmError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LmError);
    return e as LmError;
  }
  throw new Error('expected a failure');
}

describe('model folder errors', () => {
  it('reports a missing folder and a missing config.json', async () => {
    expect((await failure(() => loadModelFiles('/nonexistent/model'))).code).toBe(
      'MODEL_FILE_MISSING',
    );
    const dir = tempDir('empty');
    const e = await failure(() => loadModelFiles(dir));
    expect(e.code).toBe('MODEL_FILE_MISSING');
    expect(e.message).toBe(`${join(dir, 'config.json')} not found`);
  });

  it('names the file that is not JSON and keeps the parse error as cause', async () => {
    const dir = tinyModelFolder('llama2');
    writeFileSync(join(dir, 'generation_config.json'), '{"eos_token_id": [1, 2,');
    const e = await failure(() => loadModelFiles(dir));
    expect(e.code).toBe('MODEL_FILE_INVALID');
    expect(e.message).toContain('generation_config.json is not valid JSON');
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it('names the field holding a bad end token', async () => {
    const dir = tinyModelFolder('llama2', { generationConfig: { eos_token_id: ['</s>'] } });
    expect((await failure(() => loadModelFiles(dir))).message).toMatch(
      /generation_config.json: eos_token_id must be a token id/,
    );
    const dir2 = tinyModelFolder('llama2', { tokenizerConfig: { eos_token: '<|not-a-token|>' } });
    expect((await failure(() => loadModelFiles(dir2))).message).toMatch(
      /tokenizer_config.json: eos_token "<\|not-a-token\|>" is not in tokenizer.json/,
    );
  });

  it('says to export when onnx/model.onnx is missing', async () => {
    const dir = tinyModelFolder('llama2');
    rmSync(join(dir, 'onnx'), { recursive: true });
    const e = await failure(() => LanguageModel.load(dir));
    expect(e.code).toBe('MODEL_FILE_MISSING');
    expect(e.message).toMatch(/onnx\/model.onnx not found in .*; export the checkpoint first/);
  });

  it('rejects a corrupt ONNX file', async () => {
    const dir = tinyModelFolder('llama2');
    writeFileSync(join(dir, 'onnx', 'model.onnx'), 'not a protobuf');
    expect((await failure(() => LanguageModel.load(dir))).code).toBe('MODEL_FILE_INVALID');
  });
});

describe('export errors', () => {
  it('rejects an unsupported architecture and activation', async () => {
    const dir = tempDir('gemma');
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...TINY.models['llama2']!.config, model_type: 'gemma' }),
    );
    expect((await failure(() => exportOnnx(dir))).message).toMatch(
      /model_type "gemma" is not one of llama, qwen2, mistral/,
    );
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...TINY.models['llama2']!.config, hidden_act: 'gelu' }),
    );
    expect((await failure(() => exportOnnx(dir))).code).toBe('UNSUPPORTED_MODEL');
  });

  it('reports a missing weight file and a tensor of the wrong shape', async () => {
    const dir = tempDir('noweights');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(TINY.models['llama2']!.config));
    expect((await failure(() => exportOnnx(dir))).message).toMatch(
      /no model.safetensors or model.safetensors.index.json/,
    );
    // Weights written for 3 layers of width 48 do not fit a config of width 64.
    writeRandomCheckpoint(dir, { ...TINY.models['llama2']!.config, hidden_size: 48 }, 1);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(TINY.models['llama2']!.config));
    expect((await failure(() => exportOnnx(dir))).message).toBe(
      'model.embed_tokens.weight has shape [512,48], config.json implies [512,64]',
    );
  });

  it('reports a missing output layer when embeddings are not tied', async () => {
    const dir = tempDir('nohead');
    writeRandomCheckpoint(dir, { ...TINY.models['llama2']!.config, tie_word_embeddings: true }, 1);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(TINY.models['llama2']!.config));
    expect((await failure(() => exportOnnx(dir))).message).toMatch(
      /checkpoint lacks lm_head.weight and config.json does not tie/,
    );
  });
});

describe('models the decoder refuses', () => {
  it('refuses an ONNX model without a KV cache rather than recomputing every step (CASES 16)', async () => {
    const dir = tinyModelFolder('llama2');
    // A graph with the right inputs and logits but no past_key_values / present tensors.
    const spec: ModelSpec = {
      irVersion: 8,
      opsets: [{ domain: '', version: 17 }],
      producer: 'test',
      graphName: 'no_cache',
      nodes: [
        {
          opType: 'Cast',
          name: 'cast',
          inputs: ['input_ids'],
          outputs: ['ids_f'],
          attributes: { to: { kind: 'int', value: DataType.FLOAT } },
        },
        { opType: 'Unsqueeze', name: 'unsq', inputs: ['ids_f', 'axes'], outputs: ['logits'] },
        { opType: 'Identity', name: 'mask', inputs: ['attention_mask'], outputs: ['mask_out'] },
      ],
      initializers: [
        {
          name: 'axes',
          dataType: DataType.INT64,
          dims: [1],
          raw: new Uint8Array(BigInt64Array.of(2n).buffer),
        },
      ],
      inputs: [
        { name: 'input_ids', dataType: DataType.INT64, shape: ['batch_size', 'sequence_length'] },
        {
          name: 'attention_mask',
          dataType: DataType.INT64,
          shape: ['batch_size', 'total_sequence_length'],
        },
      ],
      outputs: [
        { name: 'logits', dataType: DataType.FLOAT, shape: ['batch_size', 'sequence_length', 1] },
        {
          name: 'mask_out',
          dataType: DataType.INT64,
          shape: ['batch_size', 'total_sequence_length'],
        },
      ],
      metadata: {},
    };
    writeFileSync(join(dir, 'onnx', 'model.onnx'), Buffer.concat(encodeModel(spec)));
    const e = await failure(() => LanguageModel.load(dir));
    expect(e.code).toBe('UNSUPPORTED_MODEL');
    expect(e.message).toMatch(
      /has no past_key_values inputs \/ present outputs; export it with a KV cache/,
    );
  });

  it('wraps an onToken callback failure with its cause', async () => {
    const lm = await LanguageModel.load(tinyModelFolder('llama2'), { threads: 1 });
    try {
      const boom = new Error('boom');
      const e = await failure(() =>
        lm.generate([{ prompt: 'Hi', maxNewTokens: 3 }], {
          onToken: () => {
            throw boom;
          },
        }),
      );
      expect(e.code).toBe('CALLBACK_FAILED');
      expect(e.cause).toBe(boom);
    } finally {
      await lm.dispose();
    }
  });
});
