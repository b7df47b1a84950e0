// Pairing policies and the join, without Kafka: ladder order, filters, scores, ranking by
// parameter count, out-of-order arrival, missing sides, duplicates and uncommitted steps.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { FinishReason, ResponseSchema, type Response } from '@delta/contracts';
import { Violations } from '@delta/rpc';
import { describe, expect, it } from 'vitest';
import {
  JoinState, JoinStep, adjacentRungs, ladderPolicy, pairId, rankBySize, scorePolicy, scorerFor,
  sizeFromConfig, sizeFromName,
} from '../src/index.js';

const keep = { keepIdentical: false, keepTruncated: false };

/** Fields a test sets on a response beside its model and text. */
type Extras = Partial<Pick<Response, 'runId' | 'promptId' | 'finishReason' | 'score' |
  'reference' | 'sampleIndex' | 'task'>>;

function response(model: string, text: string, extra: Extras = {}): Response {
  return create(ResponseSchema, {
    runId: 'run-1', promptId: 'p-1', model, text, finishReason: FinishReason.STOP,
    prompt: [{ role: 'user', content: 'What is 6 times 7?' }], ...extra,
  });
}

function answers(...list: Response[]): Map<string, Response> {
  return new Map(list.map((r) => [r.model, r]));
}

describe('the model ladder', () => {
  it('chooses the higher rung of each adjacent pair', () => {
    const policy = ladderPolicy(adjacentRungs(['7b', '3b', '1b']), keep);
    const out = policy.resolve(
      answers(response('1b', 'c'), response('7b', 'a'), response('3b', 'b')));
    expect(out.pairs.map((p) => [p.chosen.model, p.rejected.model]))
      .toEqual([['7b', '3b'], ['3b', '1b']]);
    expect(out.dropped).toEqual({});
  });

  it('emits only the rung pairs the job names', () => {
    const policy = ladderPolicy([['7b', '1b']], keep);
    expect(policy.models).toEqual(['7b', '1b']);
    const out = policy.resolve(answers(response('7b', 'a'), response('1b', 'c')));
    expect(out.pairs.map((p) => p.chosen.text + '>' + p.rejected.text)).toEqual(['a>c']);
  });

  it('drops identical, empty and truncated pairs unless told to keep them', () => {
    const rungs = adjacentRungs(['big', 'small']);
    const drop = (a: Response, b: Response, filters = keep) =>
      ladderPolicy(rungs, filters).resolve(answers(a, b)).dropped;
    expect(drop(response('big', ' 42 '), response('small', '42'))).toEqual({ identical: 1 });
    expect(drop(response('big', '42'), response('small', '  \n'))).toEqual({ empty: 1 });
    const cut = response('small', 'The answer', { finishReason: FinishReason.LENGTH });
    expect(drop(response('big', '42'), cut)).toEqual({ truncated: 1 });
    expect(drop(response('big', '42'), cut, { ...keep, keepTruncated: true })).toEqual({});
    expect(drop(response('big', '42'), response('small', '42'), { ...keep, keepIdentical: true }))
      .toEqual({});
    expect(drop(response('big', '42'), response('small', ''), { keepIdentical: true,
      keepTruncated: true })).toEqual({ empty: 1 });
  });

  it('counts a rung pair with an absent side as missing_side', () => {
    const policy = ladderPolicy(adjacentRungs(['7b', '3b', '1b']), keep);
    const out = policy.resolve(answers(response('7b', 'a'), response('3b', 'b')));
    expect(out.pairs).toHaveLength(1);
    expect(out.dropped).toEqual({ missing_side: 1 });
  });
});

describe('the score policy', () => {
  const gsm8k = scorerFor('gsm8k');
  const reference = 'Six sevens.\n#### 42';

  it('pairs a correct GSM8K answer over an incorrect one, whatever the model order', () => {
    const policy = scorePolicy(['small', 'big'], gsm8k, 0, keep);
    const out = policy.resolve(answers(
      response('small', 'Six times seven is 42.\nA: 42', { reference }),
      response('big', 'It is 6 + 7 = 13\nA: 13', { reference }),
    ));
    expect(out.pairs).toHaveLength(1);
    expect(out.pairs[0]).toMatchObject({ chosenScore: 1, rejectedScore: 0 });
    expect(out.pairs[0]!.chosen.model).toBe('small');
  });

  it('drops pairs whose margin does not exceed the threshold, and unscored responses', () => {
    const both = scorePolicy(['a', 'b'], gsm8k, 0, keep).resolve(answers(
      response('a', 'A: 42', { reference }), response('b', 'so 42', { reference })));
    expect(both.dropped).toEqual({ below_margin: 1 });
    const record = scorePolicy(['a', 'b'], scorerFor('record'), 0.5, keep);
    expect(record.resolve(answers(response('a', 'x', { score: 0.9 }),
      response('b', 'y', { score: 0.5 }))).dropped).toEqual({ below_margin: 1 });
    expect(record.resolve(answers(response('a', 'x', { score: 0.9 }),
      response('b', 'y', { score: 0.2 }))).pairs).toHaveLength(1);
    expect(record.resolve(answers(response('a', 'x', { score: 0.9 }), response('b', 'y')))
      .dropped).toEqual({ unscored: 1 });
    expect(gsm8k(response('a', 'A: 42'))).toBeUndefined();
    expect(gsm8k(response('a', 'A: 42', { reference: '42' }))).toBe(1);
  });

  it('checks MATH-style answers against the reference', () => {
    const math = scorerFor('math');
    const reference = 'So the answer is $\\boxed{\\frac{1}{2}}$.';
    expect(math(response('a', 'We get \\boxed{\\frac{1}{2}}', { reference }))).toBe(1);
    expect(math(response('a', 'We get \\boxed{2}', { reference }))).toBe(0);
    expect(math(response('a', 'We get \\boxed{2}'))).toBeUndefined();
  });

  it('pairs the best over the worst of several models, ties to the first and the last', () => {
    const policy = scorePolicy(['a', 'b', 'c', 'd'], scorerFor('record'), 0, keep);
    const out = policy.resolve(answers(response('a', 'w', { score: 1 }),
      response('b', 'x', { score: 1 }), response('c', 'y', { score: 0 }),
      response('d', 'z', { score: 0 })));
    expect(out.pairs.map((p) => [p.chosen.model, p.rejected.model])).toEqual([['a', 'd']]);
  });
});

describe('ranking a ladder by parameter count', () => {
  it('reads sizes from names and configs', () => {
    expect(sizeFromName('Qwen2.5-1.5B-Instruct')).toBe(1.5e9);
    expect(sizeFromName('175b_verification')).toBe(175e9);
    expect(sizeFromName('stories260k')).toBe(260e3);
    expect(sizeFromName('gpt2')).toBeUndefined();
    // stories260K (../shared/models/stories260k/README.md): 64 wide, hidden 172, 5 layers,
    // 8 heads (4 for keys and values), 512 tokens, tied; its file holds 260,032 weights.
    expect(sizeFromConfig({ hidden_size: 64, intermediate_size: 172, num_hidden_layers: 5,
      vocab_size: 512, num_attention_heads: 8, num_key_value_heads: 4,
      tie_word_embeddings: true })).toBe(260_032);
  });

  it('prefers the config.json of a model folder under the model roots', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'pairer-models-'));
    const config = (hidden: number) => JSON.stringify({ hidden_size: hidden,
      intermediate_size: hidden * 3, num_hidden_layers: 2, vocab_size: 256,
      num_attention_heads: 4 });
    for (const [name, hidden] of [['student-a', 64], ['student-b', 128]] as const) {
      mkdirSync(path.join(root, name));
      writeFileSync(path.join(root, name, 'config.json'), config(hidden));
    }
    const v = new Violations();
    // The names carry no size; the configs rank b (128 wide) above a (64 wide).
    expect(rankBySize(['student-a', 'student-b'], [root], v)).toEqual(['student-b', 'student-a']);
    expect(v.list).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it('ranks best first and names the models it cannot rank', () => {
    const v = new Violations();
    expect(rankBySize(['6b_finetuning', '175b_verification', 'qwen-1.5b'], [], v))
      .toEqual(['175b_verification', '6b_finetuning', 'qwen-1.5b']);
    expect(rankBySize(['gpt2', '7b'], [], v)).toBeUndefined();
    expect(v.list[0]!.problem).toMatch(/cannot rank gpt2 by parameter count/);
  });
});

describe('pair ids', () => {
  it('hash run, prompt, sample and both models (golden from Python hashlib)', () => {
    // python3 -c "import hashlib; print(hashlib.sha256('\0'.join(['run-1','gsm8k-test-0','0',
    //   '175b_verification','6b_verification']).encode()).hexdigest()[:32])"
    expect(pairId('run-1', 'gsm8k-test-0', 0, '175b_verification', '6b_verification'))
      .toBe('227d72ab3ed52030f77a06c7ab1e32ed');
    expect(pairId('run-1', 'gsm8k-test-0', 1, '175b_verification', '6b_verification'))
      .not.toBe('227d72ab3ed52030f77a06c7ab1e32ed');
  });
});

describe('the join', () => {
  const policy = ladderPolicy(adjacentRungs(['big', 'small']), keep);
  const ctx = { policy, runId: 'run-1', jobId: 'job-1' };

  it('pairs responses that arrive out of order, once both sides are in', () => {
    const state = new JoinState();
    const first = new JoinStep(state, ctx);
    first.add(response('small', 'a guess', { promptId: 'p-2' }), 1000);
    first.add(response('small', 'wrong', { promptId: 'p-1' }), 1000);
    expect(first.pairs).toHaveLength(0);
    state.apply(first);
    expect(state.pending.size).toBe(2);

    const second = new JoinStep(state, ctx);
    second.add(response('big', 'right', { promptId: 'p-1' }), 2000);
    expect(second.pairs.map((p) => [p.promptId, p.chosen!.text, p.rejected!.text]))
      .toEqual([['p-1', 'right', 'wrong']]);
    expect(second.pairs[0]!.pairId).toBe(pairId('run-1', 'p-1', 0, 'big', 'small'));
    expect(second.pairs[0]!.prompt[0]!.content).toBe('What is 6 times 7?');
    expect(second.committedModels('["run-1","p-1",0]')).toEqual(['small']);
    state.apply(second);
    expect(state.status.pairsWritten).toBe(1n);
    expect([...state.pending.keys()]).toEqual(['["run-1","p-2",0]']);
  });

  it('counts duplicates, other models and other runs without pairing them twice', () => {
    const state = new JoinState();
    const step = new JoinStep(state, ctx);
    step.add(response('big', 'x'), 0);
    step.add(response('big', 'x again'), 0);
    step.add(response('small', 'y'), 0);
    step.add(response('small', 'y late'), 0);
    step.add(response('medium', 'z'), 0);
    expect(step.add(response('big', 'x', { runId: 'run-2' }), 0)).toBe(false);
    state.apply(step);
    expect(state.status.pairsWritten).toBe(1n);
    expect(state.status.responsesRead).toBe(5n);
    expect(state.status.dropped).toEqual({ duplicate: 2n, unused_model: 1n });
  });

  it('resolves prompts missing a side at the timeout and at the end of input', () => {
    const state = new JoinState();
    const step = new JoinStep(state, ctx);
    step.add(response('big', 'early', { promptId: 'old' }), 1000);
    step.add(response('big', 'later', { promptId: 'new' }), 5000);
    state.apply(step);

    const tick = new JoinStep(state, ctx);
    tick.expire(6000, 3000);
    expect(tick.pendingCount()).toBe(1);
    state.apply(tick);
    expect(state.status.dropped).toEqual({ missing_side: 1n });

    const end = new JoinStep(state, ctx);
    end.finish();
    state.apply(end);
    expect(state.pending.size).toBe(0);
    expect(state.finished).toBe(true);
    expect(state.status.dropped).toEqual({ missing_side: 2n });
  });

  it('leaves the committed state alone until a step is applied', () => {
    const state = new JoinState();
    const step = new JoinStep(state, ctx);
    step.add(response('big', 'x'), 0);
    step.add(response('small', 'y'), 0);
    expect(step.pairs).toHaveLength(1);
    expect(state.status.pairsWritten).toBe(0n);
    expect(state.pending.size).toBe(0);
    expect(state.done.size).toBe(0);
  });
});
