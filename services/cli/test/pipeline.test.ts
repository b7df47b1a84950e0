// Pipeline files: the examples parse, every mistake is reported with its file, line and field,
// all of them at once, and the trainer's names the check knows agree with the trainer's own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evalsCatalog } from '../src/commands/run.js';
import { RunError } from '../src/errors.js';
import { TRAINER_LOSSES, TRAINER_PRESETS } from '../src/pipeline/known.js';
import { parsePipeline, readPipeline } from '../src/pipeline/parse.js';
import { generationSpec, pairingSpec, RunLayout, trainingSpec } from '../src/pipeline/specs.js';
import { resolvePaths } from '../src/pipeline/world.js';
// The trainer's own tables, read as source: the CLI does not depend on the trainer package.
import { LOSSES, PRESETS } from '../../trainer/src/presets.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let dir: string;

/** A valid pipeline over folders that exist; tests change one line of it. */
const GOOD = `name: check
student: models/student
teachers:
  strong: models/strong
  weak: models/weak
prompts:
  train: prompts.jsonl
generation:
  sampling: { max_new_tokens: 16 }
generate:
  strong: { model: strong, prompts: train }
  weak: { model: weak, prompts: train }
  strong-b: { model: strong, prompts: train, sampling: { temperature: 0.8, seed: 3 } }
pairs:
  weak-pairs: { chosen: strong, rejected: weak }
  same: { chosen: strong, rejected: strong-b, keep_truncated: true }
train:
  preset: tiny
  config: { max_steps: 10 }
experiments:
  dpo: { pairs: weak-pairs, role: dpo }
  sft: { pairs: weak-pairs, role: sft, config: { loss: sft } }
  reversed: { pairs: weak-pairs, role: reversed, reverse: true }
  no-delta: { pairs: same, role: no_delta }
evaluate:
  tasks:
    - { name: gsm8k, data: eval.jsonl, limit: 5 }
`;

function check(text: string): RunError {
  try {
    parsePipeline(path.join(dir, 'pipe.yaml'), text, { cwd: dir, tasks: evalsCatalog });
  } catch (err) {
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).code).toBe('PIPELINE');
    return err as RunError;
  }
  throw new Error('expected the pipeline to be refused');
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'delta-cli-pipeline-'));
  for (const m of ['student', 'strong', 'weak']) {
    mkdirSync(path.join(dir, 'models', m), { recursive: true });
  }
  writeFileSync(path.join(dir, 'prompts.jsonl'), '{"id":"a","prompt":"hi"}\n');
  writeFileSync(path.join(dir, 'eval.jsonl'), '{"question":"1+1?","answer":"#### 2"}\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a valid pipeline', () => {
  it('is read with absolute paths, defaults filled and models in table order', () => {
    const p = parsePipeline(path.join(dir, 'pipe.yaml'), GOOD, { cwd: dir, tasks: evalsCatalog });
    expect(p.student).toEqual({ path: path.join(dir, 'models', 'student'),
      where: 'pipe.yaml:2: student' });
    expect(p.generate.find((g) => g.name === 'strong-b')).toMatchObject({
      model: 'strong', sampling: { max_new_tokens: 16, temperature: 0.8, seed: 3 }, batchSize: 0,
    });
    expect(p.pairs.map((x) => [x.name, x.chosen, x.rejected, x.keepTruncated])).toEqual([
      ['weak-pairs', 'strong', 'weak', false], ['same', 'strong', 'strong-b', true]]);
    expect(p.experiments.map((e) => [e.name, e.label])).toEqual([
      ['dpo', 'DPO on the weak pairs'], ['sft', 'SFT on the chosen responses'],
      ['reversed', 'DPO on reversed pairs (control)'],
      ['no-delta', 'DPO without a delta: one model on both sides (control)']]);
    expect(p.experiments[1]!.config).toEqual({ max_steps: 10, loss: 'sft' });
    expect(p.evaluate.models).toEqual(['student', 'sft', 'dpo', 'reversed', 'no-delta', 'strong',
      'weak']);
    expect(p.topics).toEqual({ responses: 'delta.responses', pairs: 'delta.pairs' });
  });

  it('becomes the services\' specs: a ladder pairing, a topic per pairing, a folder per run', () => {
    const p = parsePipeline(path.join(dir, 'pipe.yaml'), GOOD, { cwd: dir, tasks: evalsCatalog });
    const paths = resolvePaths(p);
    const layout = new RunLayout(path.join(dir, 'runs', 'r1'));
    const gen = generationSpec(p, paths, p.generate[2]!);
    expect(gen.model).toBe(path.join(dir, 'models', 'strong'));
    expect(gen.modelName).toBe('strong-b');
    expect(gen.sampling).toMatchObject({ maxNewTokens: 16, temperature: 0.8, seed: 3n });
    const pairing = pairingSpec(p, p.pairs[0]!, layout);
    expect(pairing.policy).toMatchObject({ case: 'ladder', value: { order: ['strong', 'weak'] } });
    expect(pairing.pairsTopic).toBe('delta.pairs.weak-pairs');
    expect(pairing.untilEnd).toBe(true);
    const training = trainingSpec(p, paths, p.experiments[2]!, layout);
    expect(training).toMatchObject({ preset: 'tiny', reversePairs: true,
      outputDir: path.join(dir, 'runs', 'r1', 'train', 'reversed'),
      pairs: { source: { case: 'topic', value: 'delta.pairs.weak-pairs' } } });
    expect(training.config?.maxSteps).toBe(10);
  });

  it('includes the examples', () => {
    const tiny = readPipeline(path.join(repoRoot, 'examples', 'tiny.yaml'),
      { cwd: repoRoot, tasks: evalsCatalog });
    expect(tiny.world).toEqual({ module: path.join(repoRoot, 'examples', 'tiny-world.mjs'),
      seed: 0, cache: path.join(repoRoot, 'examples', 'cache', 'tiny-world') });
    expect(tiny.student).toEqual({ world: 'student', where: 'examples/tiny.yaml:13: student' });
    expect(tiny.experiments.map((e) => e.role)).toEqual(['dpo', 'sft', 'reversed', 'no_delta']);
    const demo = readPipeline(path.join(repoRoot, 'examples', 'demo.yaml'),
      { cwd: repoRoot, tasks: evalsCatalog });
    expect(demo.name).toBe('demo');
  });
});

describe('a pipeline with mistakes', () => {
  it('names the line and field of an unknown preset', () => {
    expect(check(GOOD.replace('preset: tiny', 'preset: tny')).message)
      .toBe("pipe.yaml:18: train.preset: unknown preset 'tny' (known: paper, tiny)");
  });

  it('lists every problem at once, each at its own line', () => {
    const text = GOOD
      .replace('  strong: { model: strong, prompts: train }',
        '  strong: { model: strnog, prompts: train }')
      .replace('sampling: { max_new_tokens: 16 }', 'sampling: { max_tokens: 16 }')
      .replace('temperature: 0.8', 'temperature: hot')
      .replace('role: sft, config: { loss: sft }', 'role: sft')
      .replace('evaluate:', 'experiment: {}\nevaluate:');
    const lines = check(text).message.split('\n');
    expect(lines).toEqual([
      'pipe.yaml:25: experiment: unknown field (known: name, world, student, teachers, prompts, ' +
        'generation, generate, pairs, train, experiments, evaluate, report, topics)',
      'pipe.yaml:9: generation.sampling.max_tokens: unknown field (known: temperature, top_k, ' +
        'top_p, seed, n, max_new_tokens, stop)',
      "pipe.yaml:11: generate.strong.model: no model named 'strnog' (known: student, strong, weak)",
      'pipe.yaml:13: generate.strong-b.sampling.temperature: not a valid value (expected number ' +
        '(float64), got "hot")',
      'pipe.yaml:22: experiments.sft.config.loss: role sft trains on the chosen responses alone: ' +
        'set config.loss: sft',
    ]);
  });

  it('refuses a no-delta control whose sides come from two models', () => {
    expect(check(GOOD.replace('rejected: strong-b', 'rejected: weak')).message).toBe(
      "pipe.yaml:24: experiments.no-delta.pairs: role no_delta needs both sides from one model; " +
      "pairing 'same' pairs strong over weak");
  });

  it('names missing files, world names without a world, and unknown tasks', () => {
    const text = GOOD.replace('student: models/student', 'student: models/nope')
      .replace('train: prompts.jsonl', 'train: world:train')
      .replace('name: gsm8k, data: eval.jsonl', 'name: gsm9k, data: eval.jsonl');
    const lines = check(text).message.split('\n');
    expect(lines[0]).toBe(`pipe.yaml:2: student: models/nope does not exist (looked for ` +
      `${path.join(dir, 'models', 'nope')})`);
    expect(lines[1]).toBe(
      'pipe.yaml:7: prompts.train: "world:train" needs a world section that builds it');
    expect(lines[2]).toMatch(
      /^pipe\.yaml:27: evaluate\.tasks\[0\]\.name: unknown task 'gsm9k' \(known: .*gsm8k.*\)$/u);
  });

  it('reports a YAML syntax error with its line', () => {
    expect(check('name: x\nteachers: [a\nstudent: b\n').message).toMatch(/^pipe\.yaml:3: /u);
  });

  it('refuses a document whose aliases expand without bound, naming the file', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]',
      ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`)
        .join(', ')}]`)].join('\n');
    expect(check(bomb).message).toMatch(/^pipe\.yaml: Excessive alias count/u);
  });

  it('takes a seed up to 2^31 - 1', () => {
    expect(check(GOOD.replace('name: ', 'world: { seed: 2147483648 }\nname: ')).message)
      .toContain('world.seed: must be an integer from 0 to 2147483647');
  });

  it('refuses a rejected side equal to the chosen one', () => {
    expect(check(GOOD.replace('{ chosen: strong, rejected: weak }', '{ chosen: weak, rejected: weak }'))
      .message).toMatch(/^pipe\.yaml:15: pairs\.weak-pairs\.rejected: must differ from chosen/u);
  });
});

describe('the trainer names the check knows', () => {
  it('are the trainer\'s presets and losses', () => {
    expect([...TRAINER_PRESETS].sort()).toEqual(Object.keys(PRESETS).sort());
    expect([...TRAINER_LOSSES].sort()).toEqual([...LOSSES].sort());
  });
});
