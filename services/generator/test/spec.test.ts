// The pure parts of the service: spec checks and defaults, names derived from run and model,
// per-prompt seeds, the environment it reads, and that its README documents every variable.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { GenerationSpecSchema, RESPONSES_TOPIC } from '@delta/contracts';
import { ConfigError, Violations } from '@delta/rpc';
import { jobServiceEnvSpec } from '@delta/service';
import { describe, expect, it } from 'vitest';
import {
  GENERATOR_PORT, checkSpec, generatorEnvSpec, promptSeed, promptsGroupId,
  readGeneratorSettings, transactionalIdOf, type GeneratorLimits,
} from '../src/index.js';
import { PROJECT_ROOT } from './helpers.js';

const LIMITS: GeneratorLimits = {
  maxNewTokens: 512, maxSamples: 4, maxBatchSize: 16, defaultBatchSize: 8,
};

function problems(init: Parameters<typeof create<typeof GenerationSpecSchema>>[1]) {
  const spec = create(GenerationSpecSchema, init);
  const v = new Violations();
  checkSpec(spec, LIMITS, v);
  return { spec, list: v.list.map((p) => `${p.field}: ${p.problem}`) };
}

describe('checkSpec', () => {
  it('fills model_name from the folder, the batch size and the responses topic', () => {
    const { spec, list } = problems({ model: 'ladder/qwen-1.5b/',
      prompts: { source: { case: 'topic', value: 'delta.prompts' } } });
    expect(list).toEqual([]);
    expect(spec.modelName).toBe('qwen-1.5b');
    expect(spec.batchSize).toBe(8);
    expect(spec.responsesTopic).toBe(RESPONSES_TOPIC);
  });

  it('keeps a given model_name and names every field over a limit', () => {
    const { spec, list } = problems({
      model: 'm', modelName: 'rung 1', responsesTopic: 'bad topic!',
      prompts: { source: { case: 'topic', value: '' } }, batchSize: 17,
      sampling: { maxNewTokens: 513, n: 5, temperature: -1, topP: 2,
        stop: Array.from({ length: 17 }, () => 'x') },
    });
    expect(spec.modelName).toBe('rung 1');
    expect(list).toEqual([
      'spec.model_name: must be 1-200 characters without spaces or slashes',
      'spec.prompts.topic: required',
      'spec.responses_topic: "bad topic!" is not a valid topic name',
      'spec.batch_size: 17 is above the limit 16',
      'spec.sampling.max_new_tokens: 513 is above the limit 512',
      'spec.sampling.n: 5 is above the limit 4',
      'spec.sampling.temperature: -1 is outside [0, 10]',
      'spec.sampling.top_p: 2 is outside [0, 1]',
      'spec.sampling.stop: 17 is above the limit 16',
    ]);
  });

  it('requires a model and a prompt source', () => {
    expect(problems({}).list).toEqual([
      'spec.model: required',
      'spec.prompts: required: give prompts.file or prompts.topic',
    ]);
  });
});

describe('names and seeds', () => {
  it('derives Kafka-safe group and transactional ids from run, model and instance', () => {
    expect(promptsGroupId('run 7', 'qwen/1.5b')).toBe('delta.generator.run_7.qwen_1.5b');
    expect(transactionalIdOf('run-7', 'rung-a')).toBe('delta.generator.run-7.rung-a');
    expect(transactionalIdOf('run-7', 'rung-a', 'generator@pod-0'))
      .toBe('delta.generator.run-7.rung-a.generator_pod-0');
  });

  it('gives each prompt its own seed from the request seed and the prompt id', () => {
    // The first 8 bytes of sha256("42/p1") read little-endian, from Python: `int.from_bytes(
    // hashlib.sha256(b'42/p1').digest()[:8], 'little')`.
    expect(promptSeed(42n, 'p1')).toBe(2155686890076348997n);
    expect(promptSeed(42n, 'p1')).not.toBe(promptSeed(42n, 'p2'));
    expect(promptSeed(43n, 'p1')).not.toBe(promptSeed(42n, 'p1'));
  });
});

describe('the environment', () => {
  it('reads caps and defaults, and names every bad variable at once', () => {
    expect(readGeneratorSettings({}).limits).toEqual({
      maxNewTokens: 4096, maxSamples: 16, maxBatchSize: 64, defaultBatchSize: 8,
    });
    expect(() => readGeneratorSettings({ DELTA_GENERATOR_MAX_SAMPLES: 'many',
      DELTA_GENERATOR_DEVICE: 'tpu' })).toThrow(ConfigError);
    try {
      readGeneratorSettings({ DELTA_GENERATOR_MAX_SAMPLES: 'many', DELTA_GENERATOR_DEVICE: 'tpu' });
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.split(':')[0])).toEqual([
        'DELTA_GENERATOR_MAX_SAMPLES', 'DELTA_GENERATOR_DEVICE',
      ]);
    }
  });

  it('is documented variable by variable in the README', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const names = [...Object.values(generatorEnvSpec),
      ...Object.values(jobServiceEnvSpec('generator', GENERATOR_PORT))].map((v) => v.name);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(readme).toContain(`\`${name}\``);
  });
});
