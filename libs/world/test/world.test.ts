// buildWorld end to end on a small recipe (tiny budgets, so the rungs learn little): model
// folders the services can serve, prompt files the evaluation tasks read, a ladder check that
// states its verdict with numbers, and a cache that answers the second call without training.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadArith, loadSections } from '@delta/evals';
import { LanguageModel, readPromptsJsonl } from '@delta/lm';
import { afterAll, describe, expect, it } from 'vitest';

import {
  buildWorld, checkLadder, DEFAULT_RECIPE, type RungFigures, type WorldProgress, type WorldRecipe,
} from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'world-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quick = (steps: number) => ({ ...DEFAULT_RECIPE.rungs.weak.sft, steps, warmupSteps: 2 });
const recipe: WorldRecipe = {
  ...DEFAULT_RECIPE,
  arith: { ...DEFAULT_RECIPE.arith, evalCount: 40, pairCount: 30, trainCount: 300 },
  rungs: {
    weak: { ...DEFAULT_RECIPE.rungs.weak, sft: quick(4) },
    strong: { ...DEFAULT_RECIPE.rungs.strong, sft: quick(4) },
    student: { ...DEFAULT_RECIPE.rungs.student, sft: quick(6) },
  },
};

describe('buildWorld', () => {
  it('builds the ladder, its prompt files and its check, then answers from the cache', async () => {
    const events: WorldProgress[] = [];
    const built = await buildWorld({ cacheDir: dir, seed: 7, recipe, onProgress: (e) => events.push(e) });
    expect(built.cached).toBe(false);
    expect(Object.keys(built.models)).toEqual(['weak', 'strong', 'student']);
    expect(built.tasks).toEqual(['arith', 'sections']);
    for (const folder of Object.values(built.models)) {
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json',
        'generation_config.json', 'onnx/model.onnx']) {
        expect(existsSync(path.join(folder, f)), `${folder}/${f}`).toBe(true);
      }
    }
    const config = JSON.parse(readFileSync(path.join(built.models.student!, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForCausalLM'], hidden_size: 64,
      num_hidden_layers: 2, vocab_size: 51, max_position_embeddings: 256 });

    // The prompt files are what the generator and the evaluation tasks read.
    const arithEval = await loadArith(built.prompts['arith-eval']!);
    expect(arithEval).toHaveLength(40);
    const pairs = await readPromptsJsonl(built.prompts['arith-pairs']!);
    expect(pairs.prompts).toHaveLength(30);
    expect(pairs.rejected).toHaveLength(0);
    expect((await loadSections(built.prompts['sections-eval']!)).length).toBe(40);
    expect((await loadSections(built.prompts['sections-pairs']!)).length).toBe(80);

    // Every rung was measured, and the check says what it found, with numbers.
    expect(built.ladder.rungs.map((r) => [r.name, r.steps])).toEqual([['weak', 4], ['strong', 4],
      ['student', 6]]);
    expect(built.ladder.findings[0]).toMatch(/^strong \d\.\d{3} \(95% CI/u);
    expect(events.some((e) => e.stage.startsWith('train student') && e.done === 6)).toBe(true);

    // A served model answers through the chat template with `<bos> prompt`.
    const lm = await LanguageModel.load(built.models.weak!, { threads: 1 });
    expect(lm.promptIds({ messages: [{ role: 'user', content: '1+2=' }] })).toEqual([1, 4, 13, 5, 16]);
    await lm.decoder.dispose();

    const again = await buildWorld({ cacheDir: dir, seed: 7, recipe });
    expect(again.cached).toBe(true);
    expect(again.models).toEqual(built.models);
    expect(again.ladder).toEqual(built.ladder);

    // Another seed is another world.
    const other = { ...recipe, rungs: { ...recipe.rungs, student: { ...recipe.rungs.student,
      sft: quick(5) } } };
    expect((await buildWorld({ cacheDir: dir, seed: 7, recipe: other })).dir).not.toBe(built.dir);
  });
});

describe('checkLadder', () => {
  const rung = (name: RungFigures['name'], value: number, half: number): RungFigures => ({
    name, parameters: 1, steps: 1, trainSeconds: 0, finalLoss: 0,
    arith: { score: { name: 'score', value, ciLow: value - half, ciHigh: value + half, n: 500 },
      exactMatch: { name: 'exact_match', value, ciLow: value, ciHigh: value, n: 500 } },
    sections: { name: 'sections', value: 2, ciLow: 2, ciHigh: 2, n: 40 },
  });

  it('passes a ladder whose intervals are apart and fails one whose intervals overlap', () => {
    const good = checkLadder([rung('weak', 0.2, 0.03), rung('strong', 0.5, 0.03),
      rung('student', 0.9, 0.02)]);
    expect(good.passed).toBe(true);
    expect(good.findings[0]).toBe('strong 0.500 (95% CI 0.470-0.530) is above weak 0.200 ' +
      '(95% CI 0.170-0.230) on the arith score.');
    const bad = checkLadder([rung('weak', 0.2, 0.03), rung('strong', 0.24, 0.03),
      rung('student', 0.9, 0.02)]);
    expect(bad.passed).toBe(false);
    expect(bad.findings[0]).toMatch(/strong 0\.240 .* is NOT clearly above weak/u);
    expect(bad.findings[2]).toMatch(/^The student beats both teachers/u);
  });
});
