// The evaluator served for real: gRPC on loopback, jobs on a real Kafka broker, a tiny exported
// model on ONNX Runtime. An evaluation job's metrics and details are checked against the same
// model called directly; Score reproduces the library's IFEval figures; bad requests fail with
// the code and the field at fault.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  EvaluatorService,
  JobState,
  type EvaluationJob,
  type MetricSchema,
  type TaskResult,
} from '@delta/contracts';
import {
  getTask,
  gsm8k,
  ifeval,
  registerTask,
  scoreFiles,
  scoreGsm8k,
  type ChatMessage,
  type GenerationTask,
  type TaskDoc,
} from '@delta/evals';
import { LanguageModel } from '@delta/lm';
import { Code, createClient, type Client } from '@delta/rpc';
import { startJobService, type RunningService } from '@delta/service';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import type { MessageShape } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatorEnvSpec, evaluatorService, readEvaluatorSettings } from '../src/index.js';
import type { DetailLine } from '../src/details.js';
import { FIXTURES, REPO_ROOT, SHARED_DATA, tempDir, writeTinyModel } from './support/model.js';

let telemetry: TestTelemetry;
let service: RunningService<EvaluationJob>;
let client: Client<typeof EvaluatorService>;
let lm: LanguageModel;
let modelsRoot: string;
let outRoot: string;

beforeAll(async () => {
  telemetry = await startTestTelemetry('evaluator-test');
  modelsRoot = tempDir('models');
  outRoot = tempDir('out');
  writeTinyModel(path.join(modelsRoot, 'tiny'));
  writeTinyModel(path.join(modelsRoot, 'no-onnx'), { onnx: false });
  const env = {
    DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS,
    DELTA_GRPC_PORT: '0',
    DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
    DELTA_INSTANCE_ID: 'evaluator-test',
    DELTA_LOG_LEVEL: 'silent',
    DELTA_MODEL_ROOTS: modelsRoot,
    DELTA_DATA_ROOTS: [SHARED_DATA, FIXTURES].join(path.delimiter),
    DELTA_OUTPUT_ROOTS: outRoot,
    DELTA_EVALUATOR_THREADS: '1',
    DELTA_EVALUATOR_MAX_SCORE_ITEMS: '600',
  };
  service = await startJobService(evaluatorService(readEvaluatorSettings(env)), {
    env, externalTelemetry: telemetry,
  });
  client = createClient(EvaluatorService, service.server.address);
  lm = await LanguageModel.load(path.join(modelsRoot, 'tiny'), { threads: 1 });
});

afterAll(async () => {
  await service?.stop('test over');
  await lm?.dispose();
  await telemetry?.shutdown();
});

async function watchToEnd(jobId: string): Promise<EvaluationJob[]> {
  const seen: EvaluationJob[] = [];
  for await (const { job } of client.watchEvaluation({ jobId })) seen.push(job!);
  return seen;
}

function readDetails(file: string): DetailLine[] {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l) as DetailLine);
}

function metric(result: TaskResult | undefined, name: string): MessageShape<typeof MetricSchema> {
  const m = result?.metrics.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name}`);
  return m;
}

const LETTERS = 'ABCD';

describe('an evaluation job', () => {
  let last: EvaluationJob;
  let seen: EvaluationJob[];
  let details: DetailLine[];
  let traceId: string;
  const spec = {
    model: 'tiny',
    tasks: [
      { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 6, sampling: { maxNewTokens: 8 } },
      { name: 'mmlu', dataFile: 'mc.jsonl' },
    ],
    batchSize: 2,
    detailsFile: 'run-1/details.jsonl',
    bootstrapSamples: 200,
    seed: 3n,
  };

  beforeAll(async () => {
    traceId = await telemetry.tracer('test').startActiveSpan('client', async (span) => {
      const { jobId, job } = await client.startEvaluation({ runId: 'run-eval', spec });
      expect(job?.spec?.modelName).toBe('tiny');
      seen = await watchToEnd(jobId);
      span.end();
      return span.spanContext().traceId;
    });
    last = seen.at(-1)!;
    details = readDetails(path.join(outRoot, 'run-1/details.jsonl'));
  });

  it('succeeds with one result per task, in spec order, over every item', () => {
    expect(last.meta?.state).toBe(JobState.SUCCEEDED);
    expect(last.meta?.runId).toBe('run-eval');
    expect(last.status?.itemsTotal).toBe(14n);
    expect(last.status?.itemsDone).toBe(14n);
    expect(last.status?.detailsFile).toBe(path.join(outRoot, 'run-1/details.jsonl'));
    expect(last.status?.results.map((r) => [r.task, r.primaryMetric])).toEqual([
      ['gsm8k', 'exact_match_flexible'],
      ['mmlu', 'acc'],
    ]);
    for (const r of last.status!.results) {
      for (const m of r.metrics) {
        expect(m.n).toBe(r.task === 'gsm8k' ? 6n : 8n);
        expect(m.ciLow).toBeLessThanOrEqual(m.value);
        expect(m.ciHigh).toBeGreaterThanOrEqual(m.value);
      }
    }
  });

  it('streams progress in items while it runs', () => {
    const running = seen.filter((j) => j.meta?.state === JobState.RUNNING);
    const done = running.map((j) => Number(j.meta?.progress?.done ?? 0n));
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(new Set(done).size).toBeGreaterThanOrEqual(3);
    const units = new Set(running.map((j) => j.meta?.progress?.unit).filter(Boolean));
    expect([...units]).toEqual(['items']);
    expect(running.some((j) => j.meta?.progress?.stage === 'mmlu (task 2 of 2)')).toBe(true);
    expect(last.meta?.progress?.total).toBe(14n);
  });

  it('writes the greedy replies the model gives when called directly, with verdicts', async () => {
    const docs = await gsm8k.load(path.join(SHARED_DATA, 'gsm8k/test.jsonl'));
    const lines = details.filter((d) => d.task === 'gsm8k');
    expect(lines.map((d) => d.id)).toEqual(docs.slice(0, 6).map((d) => d.id));
    for (const line of lines) {
      const direct = (await lm.generate([{
        messages: line.messages, maxNewTokens: 8, stop: gsm8k.sampling.stop,
      }]))[0]![0]!;
      expect(line.response).toBe(direct.text);
      expect(line.finish_reason).toBe(direct.finishReason);
      const doc = docs.find((d) => d.id === line.id)!;
      expect(line.score).toBe(scoreGsm8k(doc, direct.text).score);
    }
    const correct = lines.filter((l) => l.score === 1).length;
    expect(metric(last.status?.results[0], 'exact_match_flexible').value).toBe(correct / 6);
  });

  it('scores each choice by the log-prob the model gives it when called directly', async () => {
    const mmlu = getTask('mmlu');
    const docs = await mmlu.load(path.join(FIXTURES, 'mc.jsonl')) as (TaskDoc & { gold: number })[];
    const lines = details.filter((d) => d.task === 'mmlu');
    expect(lines.map((d) => d.id)).toEqual(docs.map((d) => d.id));
    let correct = 0;
    for (const [i, line] of lines.entries()) {
      const scored = await lm.logLikelihood(LETTERS.split('').map((letter) => ({
        messages: line.messages as ChatMessage[], continuation: ` ${letter}`,
      })));
      const logprobs = scored.map((s) => s.logProb);
      const best = logprobs.indexOf(Math.max(...logprobs));
      expect(line.detail.chosen).toBe(LETTERS[best]);
      (line.detail.logprobs as number[]).forEach((lp, k) => {
        expect(lp).toBeCloseTo(logprobs[k]!, 5);
      });
      if (best === docs[i]!.gold) correct += 1;
    }
    expect(metric(last.status?.results[1], 'acc').value).toBe(correct / 8);
  });

  it('counts the items it evaluated and the tokens the model read and wrote', async () => {
    const collected = await telemetry.collectMetrics();
    const points = (name: string) => collected.scopeMetrics.flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === name)
      .flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]);
    const items = points('delta.evaluator.items')
      .map((p) => [p.attributes['delta.eval.task'], p.value]);
    expect(items).toEqual(expect.arrayContaining([['gsm8k', 6], ['mmlu', 8]]));
    const output = points('delta.evaluator.tokens')
      .filter((p) => p.attributes['gen_ai.token.type'] === 'output')
      .reduce((n, p) => n + (p.value as number), 0);
    expect(output).toBeGreaterThan(0);
    expect(output).toBeLessThanOrEqual(6 * 8);
  });

  it('runs inside the trace of the call that started it, with a span per task and batch', () => {
    const names = telemetry.spans()
      .filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
    expect(names).toContain('evaluation job');
    expect(names).toContain('evaluate gsm8k');
    expect(names).toContain('evaluate mmlu');
    expect(names.filter((n) => n === 'generate batch')).toHaveLength(3);
    expect(names.filter((n) => n === 'log-likelihood batch')).toHaveLength(16);
  });

  it('gives the same results at batch size 16 as at batch size 2 (CASES 23)', async () => {
    const { jobId } = await client.startEvaluation({
      spec: { ...spec, batchSize: 16, detailsFile: 'run-16/details.jsonl' },
    });
    const again = (await watchToEnd(jobId)).at(-1)!;
    expect(again.status?.results).toEqual(last.status?.results);
    const responses = (lines: DetailLine[]) => lines.map((l) => l.response ?? l.detail.chosen);
    expect(responses(readDetails(path.join(outRoot, 'run-16/details.jsonl'))))
      .toEqual(responses(details));
  });

  it('puts worked examples from the other items of the data before each item', async () => {
    const { jobId } = await client.startEvaluation({ spec: {
      model: 'tiny',
      tasks: [{ name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 2, numFewshot: 2,
        sampling: { maxNewTokens: 4 } }],
      detailsFile: 'fewshot/details.jsonl',
    } });
    expect((await watchToEnd(jobId)).at(-1)!.meta?.state).toBe(JobState.SUCCEEDED);
    const docs = await gsm8k.load(path.join(SHARED_DATA, 'gsm8k/test.jsonl'));
    const lines = readDetails(path.join(outRoot, 'fewshot/details.jsonl'));
    const shown = lines.map((l) => l.messages.filter((m) => m.role === 'user')
      .map((m) => m.content.replace(/^Question: /, '')));
    expect(shown).toEqual([
      [docs[1]!.question, docs[2]!.question, docs[0]!.question],
      [docs[0]!.question, docs[2]!.question, docs[1]!.question],
    ]);
    expect(lines[0]!.messages[1]).toEqual({ role: 'assistant', content: expect.stringMatching(
      new RegExp(`The answer is ${docs[1]!.gold}\\.$`)) });
  });
});

describe('a job whose prompt outgrows the model', () => {
  it('fails with INVALID_ARGUMENT naming the task and the item', async () => {
    const { jobId } = await client.startEvaluation({ spec: {
      model: 'tiny',
      tasks: [{ name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 2, numFewshot: 8 }],
    } });
    const last = (await watchToEnd(jobId)).at(-1)!;
    expect(last.meta?.state).toBe(JobState.FAILED);
    expect(last.meta?.error?.code).toBe('INVALID_ARGUMENT');
    expect(last.meta?.error?.message).toMatch(new RegExp(
      "^spec\\.tasks\\[0\\]: request \\d \\(id [01]\\): the prompt has \\d+ tokens; " +
      "the model's context is 1024"));
  });
});

describe('cancelling an evaluation', () => {
  it('stops during a task, keeping the tasks that ended and only their details', async () => {
    const { jobId } = await client.startEvaluation({ spec: {
      model: 'tiny',
      tasks: [
        { name: 'mmlu', dataFile: 'mc.jsonl' },
        { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', limit: 200, sampling: { maxNewTokens: 64 } },
      ],
      batchSize: 1,
      detailsFile: 'cancel/details.jsonl',
    } });
    for await (const { job } of client.watchEvaluation({ jobId })) {
      if (job!.status!.results.length === 1 && job!.status!.itemsDone > 9n) break;
    }
    const { job } = await client.cancelEvaluation({ jobId });

    expect(job?.meta?.state).toBe(JobState.CANCELLED);
    expect(job?.status?.results.map((r) => r.task)).toEqual(['mmlu']);
    expect(job?.status?.itemsDone).toBeLessThan(208n);
    const lines = readDetails(path.join(outRoot, 'cancel/details.jsonl'));
    expect(lines.map((l) => l.task)).toEqual(Array(8).fill('mmlu'));
  });
});

describe('Score', () => {
  const inputFile = path.join(SHARED_DATA, 'ifeval/input_data.jsonl');
  const responsesFile = path.join(SHARED_DATA, 'ifeval/gpt4_responses.jsonl');
  const responses = readFileSync(responsesFile, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as { prompt: string; response: string });

  it("reproduces the library's IFEval figures on GPT-4's responses", async () => {
    const items = responses.map((r) => ({ prompt: r.prompt, response: r.response }));
    const { result, items: verdicts } = await client.score({
      task: 'ifeval', dataFile: 'ifeval/input_data.jsonl', items, details: true,
    });
    const library = await scoreFiles(ifeval, inputFile, responsesFile);

    expect(result?.task).toBe('ifeval');
    expect(result?.primaryMetric).toBe('prompt_level_strict_acc');
    // Exact counts of the reference checker: libs/evals/test/golden/README.md.
    expect(metric(result, 'prompt_level_strict_acc').value).toBeCloseTo(417 / 540, 12);
    expect(metric(result, 'prompt_level_loose_acc').value).toBeCloseTo(431 / 540, 12);
    expect(metric(result, 'inst_level_strict_acc').value).toBeCloseTo(697 / 832, 12);
    expect(metric(result, 'inst_level_loose_acc').value).toBeCloseTo(713 / 832, 12);
    expect(result?.metrics.map((m) => ({ ...m, n: Number(m.n), $typeName: undefined })))
      .toEqual(library.result.metrics.map((m) => ({ ...m, $typeName: undefined })));

    expect(verdicts).toHaveLength(540);
    expect(verdicts.reduce((n, v) => n + v.score, 0)).toBe(417);
    const first = JSON.parse(verdicts[0]!.detailJson) as { key: string; instructions: unknown[] };
    expect(verdicts[0]!.id).toBe(first.key);
    expect(first.instructions.length).toBeGreaterThan(0);
  });

  it('gives the same metrics whatever order items come in, matched by id or prompt', async () => {
    const docs = await ifeval.load(inputFile);
    const byPrompt = new Map(responses.map((r) => [r.prompt, r.response]));
    const items = docs.slice(0, 100).map((d, i) => (i % 2
      ? { id: d.id, response: byPrompt.get(d.text)! }
      : { prompt: d.text, response: byPrompt.get(d.text)! }));
    const dataFile = 'ifeval/input_data.jsonl';
    const forward = await client.score({ task: 'ifeval', dataFile, items });
    const reversed = await client.score({ task: 'ifeval', dataFile, items: [...items].reverse() });
    expect(reversed.result).toEqual(forward.result);
    expect(forward.items).toEqual([]);
    expect(metric(forward.result, 'prompt_level_strict_acc').n).toBe(100n);
  });

  it('refuses items that match no item of the data, or answer one twice, naming them', async () => {
    const [a, b] = responses;
    await expect(client.score({
      task: 'ifeval', dataFile: 'ifeval/input_data.jsonl',
      items: [
        a!, { prompt: 'no such prompt', response: 'x' }, { id: 'nope', response: 'x' }, a!, b!,
      ],
    })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'items[1]: no item of ifeval/input_data.jsonl has this prompt; ' +
        'items[2]: no item of ifeval/input_data.jsonl has id "nope" or this prompt; ' +
        'items[3]: answers the same item (id "1000") as items[0]',
    });
  });

  it('bounds the items of one call and checks the task', async () => {
    const items = Array.from({ length: 601 }, () => ({ prompt: 'p', response: 'r' }));
    await expect(client.score({ task: 'ifeval', dataFile: 'ifeval/input_data.jsonl', items }))
      .rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT, message: 'items: 601 is above the limit 600',
      });
    await expect(client.score({ task: 'ifevel', items: [{ prompt: 'p', response: 'r' }] }))
      .rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: expect.stringMatching(
          /^task: unknown task "ifevel"; known tasks: .*gsm8k, ifeval, math, mmlu/),
      });
    await expect(client.score({ task: 'gsm8k', items: [{ prompt: 'p', response: 'r' }] }))
      .rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: 'data_file: required: task "gsm8k" has no built-in data',
      });
  });
});

describe('StartEvaluation refuses a bad spec at once', () => {
  const task = { name: 'mmlu', dataFile: 'mc.jsonl' };
  const start = (spec: Record<string, unknown>) =>
    client.startEvaluation({ spec: { model: 'tiny', tasks: [task], ...spec } });

  it('lists the known tasks for an unknown one', async () => {
    const tasks = [{ name: 'gsm9k', dataFile: 'gsm8k/test.jsonl' }];
    await expect(start({ tasks })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringMatching(new RegExp(
        '^spec\\.tasks\\[0\\]\\.name: unknown task "gsm9k"; ' +
        'known tasks: .*gsm8k, ifeval, math, mmlu, mmlu_cloze')),
    });
  });

  it('answers NOT_FOUND for a data file missing from the data roots', async () => {
    const tasks = [{ name: 'gsm8k', dataFile: 'gsm8k/train.jsonl' }];
    await expect(start({ tasks })).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: 'spec.tasks[0].data_file: "gsm8k/train.jsonl" not found in the data roots',
    });
  });

  it('answers PERMISSION_DENIED for paths outside the roots', async () => {
    const outside = path.join(REPO_ROOT, 'package.json');
    for (const spec of [
      { tasks: [{ name: 'gsm8k', dataFile: outside }] },
      { tasks: [{ name: 'gsm8k', dataFile: '../../main/package.json' }] },
      { model: REPO_ROOT },
      { detailsFile: path.join(REPO_ROOT, 'details.jsonl') },
    ]) {
      await expect(start(spec)).rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
    }
  });

  it('answers FAILED_PRECONDITION for a model folder without its ONNX export', async () => {
    await expect(start({ model: 'no-onnx' })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
      message: 'spec.model: onnx/model.onnx not found in "no-onnx"; ' +
        'export the model to ONNX first (exportOnnx)',
    });
  });

  it('names the file, line and field of bad data', async () => {
    const tasks = [{ name: 'mmlu', dataFile: 'bad.jsonl' }];
    await expect(start({ tasks })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: `spec.tasks[0].data_file: ${path.join(FIXTURES, 'bad.jsonl')}:2 field "choices": ` +
        'expected 2 to 10 strings, got an array',
    });
  });

  it('lists every limit broken in one answer', async () => {
    await expect(start({
      batchSize: 65,
      tasks: [
        {
          name: 'gsm8k', dataFile: 'gsm8k/test.jsonl',
          sampling: { n: 2, topP: 1.5, maxNewTokens: 5000 },
        },
        { name: 'gsm8k', dataFile: 'gsm8k/test.jsonl', numFewshot: 33 },
      ],
    })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.batch_size: 65 is above the limit 64; ' +
        'spec.tasks[0].sampling.top_p: 1.5 is outside [0, 1]; ' +
        'spec.tasks[0].sampling.n: the evaluator draws one response per item; leave n at 0 or 1; ' +
        'spec.tasks[0].sampling.max_new_tokens: 5000 is above the limit 4096; ' +
        'spec.tasks[1].name: "gsm8k" is already spec.tasks[0]; list a task once; ' +
        'spec.tasks[1].num_fewshot: 33 is above the limit 32',
    });
  });

  it('refuses few-shot for a task without worked examples', async () => {
    const tasks = [{ name: 'ifeval', dataFile: 'ifeval/input_data.jsonl', numFewshot: 1 }];
    await expect(start({ tasks })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringMatching(
        /^spec\.tasks\[0\]\.num_fewshot: .*ifeval has no reference replies/),
    });
  });
});

describe('a task registered with libs/evals', () => {
  /** Counts the words of a reply; its data is built in, three items. */
  const wordy: GenerationTask<TaskDoc> = {
    kind: 'generation',
    name: 'test_wordy',
    description: 'Replies with at least two words pass.',
    metrics: ['wordy'],
    primaryMetric: 'wordy',
    responseField: 'prompt',
    sampling: { temperature: 0, maxNewTokens: 6 },
    load: () => Promise.reject(new Error('no files')),
    loadBuiltin: async () => ['Say hi.', 'Count to three.', 'Name a colour.']
      .map((text, i) => ({ id: `w${i}`, text, line: i + 1 })),
    score: (_doc, response) => {
      const ok = response.trim().split(/\s+/).length >= 2;
      return { score: ok ? 1 : 0, values: { wordy: { num: ok ? 1 : 0, den: 1 } }, detail: { ok } };
    },
    messages: (doc) => [{ role: 'user', content: doc.text }],
    example: (doc) => ({ user: doc.text, assistant: 'ok' }),
  };
  beforeAll(() => registerTask(wordy));

  it('is served by Score and by evaluation jobs with no change to the service', async () => {
    const scored = await client.score({
      task: 'test_wordy',
      items: [{ id: 'w0', response: 'hello there' }, { id: 'w2', response: 'red' }],
    });
    expect(metric(scored.result, 'wordy')).toMatchObject({ value: 0.5, n: 2n });

    const spec = { model: 'tiny', tasks: [{ name: 'test_wordy' }] };
    const { jobId } = await client.startEvaluation({ spec });
    const last = (await watchToEnd(jobId)).at(-1)!;
    expect(last.meta?.state).toBe(JobState.SUCCEEDED);
    expect(metric(last.status?.results[0], 'wordy').n).toBe(3n);
  });
});

describe('configuration', () => {
  it('documents every variable it reads in its README', () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'services/evaluator/README.md'), 'utf8');
    const names = Object.values(evaluatorEnvSpec).map((v) => v.name);
    expect(names).toContain('DELTA_EVALUATOR_MAX_SCORE_ITEMS');
    for (const name of names) expect(readme).toContain(`\`${name}\``);
  });
});
