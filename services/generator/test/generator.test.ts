// The generator served for real (gRPC on loopback, jobs and responses on the test broker, a
// tiny random-weight model on ONNX Runtime) over prompt files: the records it writes, the bad
// lines it reports, what a repeated job skips, cancellation, and the errors a start answers.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  FinishReason, GeneratorService, JobState, ResponseSchema, type GenerationJob,
} from '@delta/contracts';
import { LanguageModel } from '@delta/lm';
import { Code, type Client } from '@delta/rpc';
import type { RunningService } from '@delta/service';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptSeed } from '../src/index.js';
import {
  freshTopics, generatorEnv, readTopic, serveGenerator, stateName, tempDir, testStream,
  tinyModel, watchToEnd, writeJsonl,
} from './helpers.js';

let telemetry: TestTelemetry;
let service: RunningService<GenerationJob>;
let client: Client<typeof GeneratorService>;
let modelRoot: string;
let dataRoot: string;
let responsesTopic: string;
let lm: LanguageModel;
const stream = testStream();

const LONG = 'x'.repeat(300);
const GOOD = [
  { id: 'p1', prompt: 'What is 2+3?', task: 'arith', reference: 5 },
  { id: 'p2', messages: [{ role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Name a colour.' }], metadata: { source: 'hand', level: 2 } },
  { id: 'p3', prompt: 'Count to three.' },
  { id: 'p4', prompt: 'Say hello.' },
  { id: 'p5', prompt: 'What is 7*6?', task: 'arith', reference: '42' },
  { id: 'p6', prompt: 'One word: sky or sea?' },
];

beforeAll(async () => {
  telemetry = await startTestTelemetry('generator-test');
  modelRoot = tempDir('models');
  dataRoot = tempDir('data');
  tinyModel(modelRoot, 'rung-a');
  tinyModel(modelRoot, 'no-template', { chatTemplate: false });
  tinyModel(modelRoot, 'not-exported', { skipExport: true });
  lm = await LanguageModel.load(path.join(modelRoot, 'rung-a'), { threads: 1 });
  [responsesTopic] = await freshTopics(stream, ['delta.responses', 3]);
  ({ service, client } = await serveGenerator(generatorEnv({
    jobsTopic: uniqueName('delta.jobs'), modelRoots: modelRoot, dataRoots: dataRoot,
  }), telemetry));
});

afterAll(async () => {
  await service?.stop('tests over');
  await lm?.dispose();
  await telemetry?.shutdown();
});

function promptsFile(name: string): string {
  return writeJsonl(dataRoot, name, [
    GOOD[0]!, GOOD[1]!,
    '{"id": "broken", "prompt": "no closing quote}',
    GOOD[2]!,
    { id: 'too-long', prompt: LONG },
    '',
    GOOD[3]!,
    { id: 'p1', prompt: 'the same id again' },
    GOOD[4]!, GOOD[5]!,
  ]);
}

async function responsesOf(runId: string, model?: string) {
  const all = await readTopic(stream, responsesTopic, ResponseSchema);
  return all.filter((r) => r.value.runId === runId && (!model || r.value.model === model));
}

describe('a job over a prompt file', () => {
  let job: GenerationJob;
  let runId: string;

  beforeAll(async () => {
    runId = uniqueName('run');
    const { jobId } = await client.startGeneration({
      runId,
      spec: {
        model: 'rung-a',
        prompts: { source: { case: 'file', value: promptsFile('mixed.jsonl') } },
        sampling: { temperature: 0.8, seed: 42n, n: 2, maxNewTokens: 16 },
        batchSize: 4,
        responsesTopic,
      },
    });
    job = await watchToEnd(client, jobId);
  });

  it('answers every good prompt and lists each bad line with its number and reason', () => {
    expect(stateName(job)).toBe('SUCCEEDED');
    const s = job.status!;
    expect(s.promptsDone).toBe(6n);
    expect(s.promptsSkipped).toBe(0n);
    expect(s.responsesWritten).toBe(12n);
    // The byte tokenizer gives 300 tokens for the text and 23 for the template around it.
    expect(s.rejected).toEqual([
      expect.stringMatching(/^line 3: not valid JSON \(/),
      'line 5: prompt too-long has 323 tokens; the model\'s context is 256, leaving no room ' +
        'for a response',
      'line 8: duplicate id p1 (first on line 1)',
    ]);
    // 9 non-blank lines, each answered or rejected.
    expect(job.meta!.progress).toMatchObject({ done: 9n, total: 9n, unit: 'prompts' });
  });

  it('writes one Response per prompt and sample, keyed by prompt id, with the prompt', async () => {
    const records = await responsesOf(runId);
    expect(records).toHaveLength(12);
    expect(records.map((r) => `${r.value.promptId}/${r.value.sampleIndex}`).sort()).toEqual(
      GOOD.flatMap((p) => [`${p.id}/0`, `${p.id}/1`]).sort());
    for (const { key, value, headers } of records) {
      const source = GOOD.find((p) => p.id === value.promptId)!;
      expect(key).toBe(value.promptId);
      expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-/);
      expect(value).toMatchObject({
        runId, model: 'rung-a', jobId: job.meta!.jobId,
        task: source.task ?? '', reference: source.reference === undefined ? '' :
          String(source.reference),
      });
      expect(value.metadata).toEqual(source.metadata
        ? { source: 'hand', level: '2' } : {});
      expect(value.prompt.map((m) => ({ role: m.role, content: m.content }))).toEqual(
        source.messages ?? [{ role: 'user', content: source.prompt }]);
      expect(value.createdAt!.seconds).toBeGreaterThan(0n);
      expect([FinishReason.STOP, FinishReason.LENGTH]).toContain(value.finishReason);
      expect(value.completionTokens).toBeLessThanOrEqual(16);
      if (value.finishReason === FinishReason.LENGTH) expect(value.completionTokens).toBe(16);
    }
  });

  it('writes the text the model gives alone for the same prompt and seed', async () => {
    const records = await responsesOf(runId);
    for (const p of GOOD) {
      const messages = p.messages ?? [{ role: 'user', content: p.prompt! }];
      const ids = lm.promptIds({ messages });
      const [samples] = await lm.generate([{
        promptIds: ids, sampling: { temperature: 0.8 }, seed: promptSeed(42n, p.id), n: 2,
        maxNewTokens: 16,
      }]);
      for (const [i, expected] of samples!.entries()) {
        const got = records.find((r) => r.value.promptId === p.id && r.value.sampleIndex === i)!;
        expect(got.value.text).toBe(expected.text);
        expect(got.value.promptTokens).toBe(ids.length);
        expect(got.value.completionTokens).toBe(expected.completionTokens);
      }
    }
  });

  it('counts tokens and finish reasons in the status as the records do', async () => {
    const records = (await responsesOf(runId)).map((r) => r.value);
    const s = job.status!;
    expect(s.outputTokens).toBe(BigInt(records.reduce((n, r) => n + r.completionTokens, 0)));
    const firstSamples = records.filter((r) => r.sampleIndex === 0);
    expect(s.inputTokens).toBe(BigInt(firstSamples.reduce((n, r) => n + r.promptTokens, 0)));
    const stops = records.filter((r) => r.finishReason === FinishReason.STOP).length;
    expect(s.finishReasons).toEqual({
      ...(stops > 0 ? { stop: BigInt(stops) } : {}),
      ...(stops < 12 ? { length: BigInt(12 - stops) } : {}),
    });
    expect(s.tokensPerSecond).toBeGreaterThan(0);
  });

  it('records a GenAI span per batch inside the job\'s trace, and counts in metrics', async () => {
    const spans = telemetry.spans().filter((s) =>
      s.name === 'text_completion rung-a' && s.attributes['delta.run_id'] === runId);
    // 6 answerable prompts in batches of 4.
    expect(spans).toHaveLength(2);
    const jobSpan = telemetry.spans().find((s) => s.name === 'generation job' &&
      s.attributes['delta.run_id'] === runId)!;
    const records = (await responsesOf(runId)).map((r) => r.value);
    let input = 0;
    let output = 0;
    let reasons = 0;
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(jobSpan.spanContext().traceId);
      expect(span.attributes).toMatchObject({
        'gen_ai.operation.name': 'text_completion',
        'gen_ai.system': 'onnxruntime',
        'gen_ai.request.model': 'rung-a',
        'gen_ai.request.temperature': 0.8,
        'gen_ai.request.max_tokens': 16,
        'gen_ai.request.seed': 42,
      });
      input += span.attributes['gen_ai.usage.input_tokens'] as number;
      output += span.attributes['gen_ai.usage.output_tokens'] as number;
      const finish = span.attributes['gen_ai.response.finish_reasons'] as string[];
      expect(finish.every((f) => f === 'stop' || f === 'length')).toBe(true);
      reasons += finish.length;
    }
    expect(input).toBe(Number(job.status!.inputTokens));
    // Each record carries the job's trace onward, to the pairer and the trainer.
    for (const r of await responsesOf(runId)) {
      expect(r.headers.traceparent!.split('-')[1]).toBe(jobSpan.spanContext().traceId);
    }
    expect(output).toBe(records.reduce((n, r) => n + r.completionTokens, 0));
    expect(reasons).toBe(12);

    const metrics = await telemetry.collectMetrics();
    const all = metrics.scopeMetrics.flatMap((s) => s.metrics);
    const responses = all.find((m) => m.descriptor.name === 'delta.generator.responses')!;
    const total = responses.dataPoints.reduce((n, p) => n + (p.value as number), 0);
    expect(total).toBeGreaterThanOrEqual(12);
    expect(all.map((m) => m.descriptor.name)).toEqual(expect.arrayContaining([
      'delta.generator.prompts', 'delta.generator.tokens', 'gen_ai.client.token.usage',
      'delta.generator.batch.duration',
    ]));
  });
});

describe('a file with many bad lines', () => {
  it('lists the first 100 in the status and counts the rest in one line', async () => {
    const lines = Array.from({ length: 105 }, (_, i) => `{"id": "bad-${i}", "prompt": `);
    const file = writeJsonl(dataRoot, 'many-bad.jsonl', [...lines, { id: 'ok', prompt: 'Hi' }]);
    const job = await watchToEnd(client, (await client.startGeneration({ spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: file } },
      sampling: { maxNewTokens: 4 }, responsesTopic,
    } })).jobId);
    expect(stateName(job)).toBe('SUCCEEDED');
    expect(job.status!.promptsDone).toBe(1n);
    const rejected = job.status!.rejected;
    expect(rejected).toHaveLength(101);
    expect(rejected[0]).toMatch(/^line 1: not valid JSON/);
    expect(rejected[99]).toMatch(/^line 100: not valid JSON/);
    expect(rejected[100]).toBe('5 more rejected prompts not listed');
    expect(job.meta!.progress).toMatchObject({ done: 106n, total: 106n });
  });
});

describe('a repeated job for the same run and model', () => {
  it('skips the prompts already answered and writes only the rest', async () => {
    const runId = uniqueName('run');
    const file = promptsFile('again.jsonl');
    const spec = {
      model: 'rung-a', prompts: { source: { case: 'file' as const, value: file } },
      sampling: { maxNewTokens: 8 }, batchSize: 2, responsesTopic,
    };
    const first = await watchToEnd(client, (await client.startGeneration({
      runId, spec: { ...spec, prompts: { ...spec.prompts, limit: 3 } } })).jobId);
    expect(stateName(first)).toBe('SUCCEEDED');
    expect(first.status!.promptsDone).toBe(3n);

    const second = await watchToEnd(client, (await client.startGeneration({ runId, spec }))
      .jobId);
    expect(stateName(second)).toBe('SUCCEEDED');
    expect(second.status!.promptsSkipped).toBe(3n);
    expect(second.status!.promptsDone).toBe(3n);

    // Another model name on the same run is a different rung: nothing of it is skipped.
    const other = await watchToEnd(client, (await client.startGeneration({
      runId, spec: { ...spec, modelName: 'rung-a-copy' } })).jobId);
    expect(other.status!.promptsDone).toBe(6n);

    const records = await responsesOf(runId, 'rung-a');
    expect(records.map((r) => r.value.promptId).sort()).toEqual(GOOD.map((p) => p.id).sort());
    expect(new Set(records.map((r) => r.value.jobId)).size).toBe(2);
    expect(await responsesOf(runId, 'rung-a-copy')).toHaveLength(6);
  });

  it('is greedy by default and with raw_prompts feeds the text without the template', async () => {
    const runId = uniqueName('run');
    const file = writeJsonl(dataRoot, 'raw.jsonl', [{ id: 'r1', prompt: 'Once upon a time' }]);
    const job = await watchToEnd(client, (await client.startGeneration({ runId, spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: file } },
      sampling: { maxNewTokens: 12 }, rawPrompts: true, responsesTopic,
    } })).jobId);
    expect(stateName(job)).toBe('SUCCEEDED');
    const [record] = await responsesOf(runId);
    const [[expected]] = await lm.generate([{ prompt: 'Once upon a time', maxNewTokens: 12 }]);
    expect(record!.value.text).toBe(expected!.text);
    expect(record!.value.promptTokens).toBe(lm.promptIds({ prompt: 'Once upon a time' }).length);
  });
});

describe('a service stopped mid-job', () => {
  it('resumes the job when it starts again, writing each prompt once', async () => {
    const env = generatorEnv({ jobsTopic: uniqueName('delta.jobs'),
      instanceId: 'generator-restart', modelRoots: modelRoot, dataRoots: dataRoot });
    const first = await serveGenerator(env, telemetry);
    const runId = uniqueName('run');
    const file = writeJsonl(dataRoot, 'restart.jsonl',
      Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, prompt: `Step ${i}` })));
    const { jobId } = await first.client.startGeneration({ runId, spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: file } },
      sampling: { maxNewTokens: 64 }, batchSize: 2, responsesTopic,
    } });
    for await (const { job } of first.client.watchGeneration({ jobId })) {
      if ((job!.status?.promptsDone ?? 0n) >= 4n) break;
    }
    await first.service.stop('rolling restart');
    const stopped = (await responsesOf(runId)).length;
    expect(stopped).toBeGreaterThanOrEqual(4);
    expect(stopped).toBeLessThan(30);

    const second = await serveGenerator(env, telemetry);
    try {
      const job = await watchToEnd(second.client, jobId);
      expect(stateName(job)).toBe('SUCCEEDED');
      expect(job.status).toMatchObject({ promptsDone: 30n, promptsSkipped: 0n,
        responsesWritten: 30n });
      const ids = (await responsesOf(runId)).map((r) => r.value.promptId);
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
    } finally {
      await second.service.stop('test over');
    }
  });
});

describe('cancelling a job', () => {
  it('stops it and leaves only whole prompts written, every sample of each', async () => {
    const runId = uniqueName('run');
    const prompts = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, prompt: `Item ${i}` }));
    const file = writeJsonl(dataRoot, 'cancel.jsonl', prompts);
    const { jobId } = await client.startGeneration({ runId, spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: file } },
      sampling: { maxNewTokens: 200, n: 2, temperature: 1, seed: 3n }, batchSize: 2,
      responsesTopic,
    } });
    for await (const { job } of client.watchGeneration({ jobId })) {
      if ((job!.status?.promptsDone ?? 0n) >= 2n) break;
    }
    const { job } = await client.cancelGeneration({ jobId });
    expect(stateName(job!)).toBe('CANCELLED');
    const done = Number(job!.status!.promptsDone);
    expect(done).toBeLessThan(60);

    const records = await responsesOf(runId);
    expect(records).toHaveLength(done * 2);
    const byPrompt = new Map<string, number[]>();
    for (const r of records) {
      byPrompt.set(r.value.promptId, [...(byPrompt.get(r.value.promptId) ?? []),
        r.value.sampleIndex]);
    }
    for (const samples of byPrompt.values()) expect(samples.sort()).toEqual([0, 1]);
    expect(records.every((r) => r.value.finishReason !== FinishReason.CANCELLED)).toBe(true);
  });
});

describe('starting a job', () => {
  const file = () => promptsFile('start.jsonl');

  it('refuses specs over the limits, naming every field at fault', async () => {
    await expect(client.startGeneration({ spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: file() } },
      sampling: { maxNewTokens: 100_000, n: 17, topP: 1.5, stop: ['', 'ok'] }, batchSize: 65,
    } })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.batch_size: 65 is above the limit 64; ' +
        'spec.sampling.max_new_tokens: 100000 is above the limit 4096; ' +
        'spec.sampling.n: 17 is above the limit 16; ' +
        'spec.sampling.top_p: 1.5 is outside [0, 1]; spec.sampling.stop[0]: must not be empty',
    });
    await expect(client.startGeneration({ spec: { model: 'rung-a' } })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.prompts: required: give prompts.file or prompts.topic',
    });
  });

  it('answers NOT_FOUND or FAILED_PRECONDITION for a model it cannot serve', async () => {
    const prompts = { source: { case: 'file' as const, value: file() } };
    await expect(client.startGeneration({ spec: { model: 'rung-z', prompts } }))
      .rejects.toMatchObject({ code: Code.NOT_FOUND,
        message: expect.stringMatching(/^spec\.model: model folder .*rung-z not found$/) });
    await expect(client.startGeneration({ spec: { model: 'not-exported', prompts } }))
      .rejects.toMatchObject({ code: Code.FAILED_PRECONDITION,
        message: expect.stringMatching(
          /^spec\.model: onnx\/model\.onnx not found in .*not-exported; export it first/) });
    await expect(client.startGeneration({ spec: { model: '/etc', prompts } }))
      .rejects.toMatchObject({ code: Code.PERMISSION_DENIED });
  });

  it('answers NOT_FOUND for a prompt file or topic that does not exist', async () => {
    await expect(client.startGeneration({ spec: { model: 'rung-a',
      prompts: { source: { case: 'file', value: 'nowhere.jsonl' } } } }))
      .rejects.toMatchObject({ code: Code.NOT_FOUND,
        message: expect.stringMatching(/^spec\.prompts\.file: .*nowhere\.jsonl not found$/) });
    const missing = uniqueName('delta.responses');
    await expect(client.startGeneration({ spec: { model: 'rung-a',
      prompts: { source: { case: 'file', value: file() } }, responsesTopic: missing } }))
      .rejects.toMatchObject({ code: Code.NOT_FOUND,
        message: `spec.responses_topic: topic ${missing} does not exist; create it first ` +
          '(the services do not)' });
  });

  it('fails the job naming the fix when the model has no chat template', async () => {
    const job = await watchToEnd(client, (await client.startGeneration({ spec: {
      model: 'no-template', prompts: { source: { case: 'file', value: file() } },
      responsesTopic,
    } })).jobId);
    expect(job.meta!.state).toBe(JobState.FAILED);
    expect(job.meta!.error).toMatchObject({ code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/no chat template .*; set raw_prompts for a base model$/) });
  });

  it('fails the job with FAILED_PRECONDITION when onnx/model.onnx is not a model', async () => {
    const dir = tinyModel(modelRoot, 'garbled', { skipExport: true });
    mkdirSync(path.join(dir, 'onnx'));
    writeFileSync(path.join(dir, 'onnx', 'model.onnx'), 'this is not an ONNX graph');
    const job = await watchToEnd(client, (await client.startGeneration({ spec: {
      model: 'garbled', prompts: { source: { case: 'file', value: file() } }, responsesTopic,
    } })).jobId);
    expect(job.meta!.state).toBe(JobState.FAILED);
    expect(job.meta!.error).toMatchObject({ code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/^spec\.model: .*garbled.*onnx/) });
  });

  it('fails a queued job with FAILED_PRECONDITION when its model went missing', async () => {
    const dir = tinyModel(modelRoot, 'short-lived');
    const busy = writeJsonl(dataRoot, 'busy.jsonl',
      Array.from({ length: 40 }, (_, i) => ({ id: `b${i}`, prompt: `Busy ${i}` })));
    const first = await client.startGeneration({ spec: {
      model: 'rung-a', prompts: { source: { case: 'file', value: busy } },
      sampling: { maxNewTokens: 200 }, batchSize: 1, responsesTopic,
    } });
    // One job runs at a time: the second waits in the queue while its model folder loses its
    // ONNX file.
    const { jobId } = await client.startGeneration({ spec: {
      model: 'short-lived', prompts: { source: { case: 'file', value: file() } },
      responsesTopic,
    } });
    expect((await client.getGeneration({ jobId })).job!.meta!.state).toBe(JobState.QUEUED);
    rmSync(path.join(dir, 'onnx'), { recursive: true, force: true });
    await client.cancelGeneration({ jobId: first.jobId });

    const job = await watchToEnd(client, jobId);
    expect(job.meta!.state).toBe(JobState.FAILED);
    expect(job.meta!.error).toMatchObject({ code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(
        /^spec\.model: onnx\/model\.onnx not found in .*short-lived; export it first/) });
  });
});
