// The export's layout is the one transformers.js loads: its text-generation pipeline runs the
// exported tiny model from local files and decodes greedily what LanguageModel decodes.
import { basename, dirname } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../src/index.js';
import { tinyModelFolder } from './helpers.js';

describe('transformers.js on an exported model', () => {
  it('loads onnx/model.onnx and generates the same greedy text, batched', async () => {
    const dir = tinyModelFolder('mistral', {
      tokenizerConfig: {
        bos_token: '<|begin_of_text|>',
        pad_token: '<|pad|>',
        add_bos_token: true,
      },
      generationConfig: { pad_token_id: 7 },
      configOverrides: { eos_token_id: null },
    });
    const prompts = ['Janet has 16 eggs.', 'How many bolts in total does it take to make a robe?'];

    const lm = await LanguageModel.load(dir, { threads: 1 });
    const ours = await lm.generate(prompts.map((prompt) => ({ prompt, maxNewTokens: 12 })));
    await lm.dispose();
    expect(ours.every(([r]) => r!.finishReason === 'length')).toBe(true);

    env.allowRemoteModels = false;
    env.localModelPath = dirname(dir);
    const generator = await pipeline('text-generation', basename(dir), {
      dtype: 'fp32',
      device: 'cpu',
      session_options: { intraOpNumThreads: 1 },
    });
    try {
      const theirs = (await generator(prompts, {
        max_new_tokens: 12,
        do_sample: false,
        return_full_text: false,
      })) as unknown as { generated_text: string }[][];
      expect(theirs.map((r) => r[0]!.generated_text)).toEqual(ours.map(([r]) => r!.text));
    } finally {
      await generator.dispose();
    }
  });
});
