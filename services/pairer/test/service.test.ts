// The pairer served for real (gRPC on loopback, a real broker): the ladder over responses that
// arrive out of order from several producers, the filters, the GSM8K model solutions through
// import, Kafka and export, the score policy, streaming with a timeout, and bad requests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FinishReason, JobState, PairSchema, ResponseSchema } from '@delta/contracts';
import { Code } from '@delta/rpc';
import { topic, type Stream, type StreamAdmin } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairId, type PreferenceLine } from '../src/index.js';
import {
  pairerEnv, readPairTraces, readPairs, removeTempDirs, responseRecord, sharedData, shuffle,
  startPairer, tempDir, testStream, waitFor, waitForEnd,
} from './helpers.js';

let telemetry: TestTelemetry;
let stream: Stream;
let admin: StreamAdmin;
let pairer: Awaited<ReturnType<typeof startPairer>>;
const outputs = tempDir();

beforeAll(async () => {
  telemetry = await startTestTelemetry('pairer-test');
  stream = testStream();
  admin = stream.admin();
  pairer = await startPairer(pairerEnv({
    DELTA_DATA_ROOTS: sharedData,
    DELTA_OUTPUT_ROOTS: outputs,
  }), telemetry);
});
afterAll(async () => {
  await pairer?.service.stop('test over');
  await admin?.disconnect();
  await telemetry?.shutdown();
  removeTempDirs();
});

function readExport(file: string): PreferenceLine[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('the model ladder through Kafka', () => {
  it('pairs out-of-order responses from two producers, with every drop counted', async () => {
    const runId = uniqueName('run');
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    await admin.ensureTopics([{ topic: responses, partitions: 3 }, { topic: pairs, partitions: 2 }]);

    const models = ['rung-7b', 'rung-3b', 'rung-1b'];
    const records = [];
    for (let i = 0; i < 40; i++) {
      for (const model of models) {
        const p = `p-${i}`;
        if (i === 5 && model === 'rung-1b') continue; // missing side: 3b>1b
        const text = i === 6 && model !== 'rung-1b' ? 'same answer' // identical: 7b>3b
          : i === 7 && model === 'rung-1b' ? '   ' // empty: 3b>1b
          : `${model} answers ${p}`;
        const finishReason = i === 8 && model === 'rung-3b' ? FinishReason.LENGTH // truncated: both
          : FinishReason.STOP;
        records.push(responseRecord(runId, p, model, text, { finishReason }));
      }
    }
    records.push(responseRecord('another-run', 'p-1', 'rung-7b', 'not this run'));
    const mixed = shuffle(records, 7);
    const [a, b] = [stream.producer(), stream.producer()];
    // Two producers ("replicas") send alternate slices of ten at the same time.
    const sendFrom = async (producer: typeof a, first: number) => {
      for (let i = first; i < mixed.length; i += 20) {
        await producer.send(responses, mixed.slice(i, i + 10));
      }
    };
    // The responses are written inside one trace, as a generation job's would be.
    const generation = await telemetry.tracer('test').startActiveSpan('generation', async (span) => {
      await Promise.all([sendFrom(a, 0), sendFrom(b, 10)]);
      span.end();
      return span.spanContext().traceId;
    });
    // A second answer of the same model comes later: the first one read is kept.
    await a.send(responses, [responseRecord(runId, 'p-9', 'rung-7b', 'a second answer')]);
    await Promise.all([a.disconnect(), b.disconnect()]);

    const exportFile = path.join(outputs, 'ladder', 'pairs.jsonl');
    const { jobId } = await pairer.client.startPairing({ runId, spec: {
      models, policy: { case: 'ladder', value: { order: models } },
      responsesTopic: responses.name, pairsTopic: pairs.name, untilEnd: true,
      exportFile: 'ladder/pairs.jsonl',
    } });
    const job = await waitForEnd(pairer.client, jobId);
    expect(job.meta?.error?.message ?? '').toBe('');
    expect(job.meta?.state).toBe(JobState.SUCCEEDED);
    expect(job.status?.responsesRead).toBe(120n);
    expect(job.status?.pairsWritten).toBe(75n);
    expect(job.status?.dropped).toEqual({
      missing_side: 1n, identical: 1n, empty: 1n, truncated: 2n, duplicate: 1n,
    });
    expect(job.status?.promptsPending).toBe(0n);
    expect(job.meta?.progress?.done).toBe(job.meta?.progress?.total);

    const written = await readPairs(stream, pairs.name);
    expect(written).toHaveLength(75);
    expect(new Set(written.map((p) => p.pairId)).size).toBe(75);
    const rank = (m: string) => models.indexOf(m);
    for (const pair of written) {
      expect(rank(pair.chosen!.model)).toBe(rank(pair.rejected!.model) - 1);
      expect(pair.pairId).toBe(pairId(runId, pair.promptId, 0, pair.chosen!.model,
        pair.rejected!.model));
      const same = pair.promptId === 'p-6' && pair.chosen!.model === 'rung-3b';
      expect(pair.chosen!.text).toBe(same ? 'same answer'
        : `${pair.chosen!.model} answers ${pair.promptId}`);
      expect(pair).toMatchObject({ runId, jobId, policy: 'ladder' });
    }

    const lines = readExport(exportFile);
    expect(lines).toHaveLength(75);
    expect(lines[0]).toEqual({
      prompt: [{ role: 'user', content: 'Question p-0' }],
      chosen: [{ role: 'assistant', content: 'rung-7b answers p-0' }],
      rejected: [{ role: 'assistant', content: 'rung-3b answers p-0' }],
      chosen_model: 'rung-7b',
      rejected_model: 'rung-3b',
      pair_id: pairId(runId, 'p-0', 0, 'rung-7b', 'rung-3b'),
      run_id: runId,
      prompt_id: 'p-0',
      sample_index: 0,
      policy: 'ladder',
    });
    expect(lines.map((l) => l.prompt_id).slice(0, 4)).toEqual(['p-0', 'p-0', 'p-1', 'p-1']);

    // Each pair continues the trace of the responses it was made from.
    const traces = await readPairTraces(stream, pairs.name);
    expect(traces.size).toBe(75);
    for (const traceparent of traces.values()) expect(traceparent.split('-')[1]).toBe(generation);

    // Each committed batch is a span carrying the run and job; restore and export have theirs.
    const spans = telemetry.spans();
    const batches = spans.filter((s) => s.name === `process ${responses.name}`
      && s.attributes['delta.job_id'] === jobId);
    expect(batches.length).toBeGreaterThan(0);
    // p-5's 7b>3b pair is decided when the input ends (its 1b side never came), not in a batch.
    expect(batches.reduce((n, s) => n + Number(s.attributes['delta.pairer.pairs']), 0))
      .toBeGreaterThanOrEqual(74);
    expect(batches[0]!.attributes['delta.run_id']).toBe(runId);
    const jobSpan = spans.find((s) => s.name === 'pairing job'
      && s.attributes['delta.job_id'] === jobId);
    for (const name of ['pairer restore', 'pairer export']) {
      expect(spans.some((s) => s.name === name
        && s.spanContext().traceId === jobSpan!.spanContext().traceId)).toBe(true);
    }
    const metrics = (await telemetry.collectMetrics()).scopeMetrics.flatMap((m) => m.metrics);
    const total = (name: string) => metrics.find((m) => m.descriptor.name === name)!.dataPoints
      .reduce((n, p) => n + (p.value as number), 0);
    expect(total('delta.pairer.pairs')).toBeGreaterThanOrEqual(75);
    expect(total('delta.pairer.dropped')).toBeGreaterThanOrEqual(6);
  });
});

describe('the GSM8K model solutions', () => {
  // The run id the golden pair ids were computed for; the topics are this test run's own.
  const runId = 'run-gsm8k';
  const responses = topic(uniqueName('delta.responses'), ResponseSchema);

  it('pairs the 175B model over the 6B one end to end: import, Kafka, export', async () => {
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    const { jobId } = await pairer.client.startPairing({ runId, spec: {
      // No order: the ladder is ranked by the parameter counts in the names.
      models: ['6b_verification', '175b_verification'],
      policy: { case: 'ladder', value: {} },
      responsesTopic: responses.name, pairsTopic: pairs.name, untilEnd: true,
      import: { file: 'gsm8k/model_solutions.jsonl', format: 'gsm8k-model-solutions' },
      exportFile: 'gsm8k/ladder.jsonl',
    } });
    const job = await waitForEnd(pairer.client, jobId);
    expect(job.meta?.error?.message ?? '').toBe('');
    expect(job.spec?.policy.value).toMatchObject({ order: ['175b_verification', '6b_verification'] });
    // Golden values: tools/oracles/pairer/gsm8k_pairs.py (1,319 prompts, four models each).
    expect(job.status?.responsesImported).toBe(5276n);
    expect(job.status?.responsesRead).toBe(5276n);
    expect(job.status?.pairsWritten).toBe(1319n);
    expect(job.status?.dropped).toEqual({ unused_model: 2638n });

    expect(await readPairs(stream, pairs.name)).toHaveLength(1319);
    const lines = readExport(path.join(outputs, 'gsm8k/ladder.jsonl'));
    expect(lines).toHaveLength(1319);
    expect(new Set(lines.map((l) => l.chosen_model))).toEqual(new Set(['175b_verification']));
    expect(lines[0]!.prompt[0]!.content).toMatch(/^Janet’s ducks lay 16 eggs per day/);
    expect(lines[0]!.chosen[0]!.content).toMatch(/A: 18$/);
    expect(lines[0]!.task).toBe('gsm8k');
    expect(lines.slice(0, 3).map((l) => l.pair_id)).toEqual(['eb782c7923f2ebd4367449c2d07a1f3b',
      '0cf5f243f7eb1dbe7670683396505dde', 'b1488dc4e607d37f671ad711c6a7cbf0']);
  });

  it('pairs a correct solution over an incorrect one under the GSM8K verifier', async () => {
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    const { jobId } = await pairer.client.startPairing({ runId, spec: {
      models: ['175b_verification', '175b_finetuning', '6b_verification', '6b_finetuning'],
      policy: { case: 'score', value: { scorer: 'gsm8k', minMargin: 0 } },
      responsesTopic: responses.name, pairsTopic: pairs.name, untilEnd: true,
    } });
    const job = await waitForEnd(pairer.client, jobId);
    expect(job.meta?.error?.message ?? '').toBe('');
    // Golden values: tools/oracles/pairer/gsm8k_pairs.py, "score".
    expect(job.status?.pairsWritten).toBe(731n);
    expect(job.status?.dropped).toEqual({ below_margin: 588n });
    const written = await readPairs(stream, pairs.name);
    const chosen: Record<string, number> = {};
    for (const p of written) {
      chosen[p.chosen!.model] = (chosen[p.chosen!.model] ?? 0) + 1;
      expect([p.chosen!.score, p.rejected!.score]).toEqual([1, 0]);
      expect(p.policy).toBe('score');
    }
    expect(chosen).toEqual({ '175b_verification': 586, '175b_finetuning': 76,
      '6b_verification': 57, '6b_finetuning': 12 });
  });
});

describe('streaming', () => {
  it('drops a prompt missing a side after the timeout, and a late side as duplicate', async () => {
    const runId = uniqueName('run');
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    await admin.ensureTopics([{ topic: responses }, { topic: pairs }]);
    const { jobId } = await pairer.client.startPairing({ runId, spec: {
      models: ['big', 'small'], policy: { case: 'ladder', value: { order: ['big', 'small'] } },
      responsesTopic: responses.name, pairsTopic: pairs.name, missingSideTimeoutMs: 300,
      exportFile: 'streaming.jsonl',
    } });
    const producer = stream.producer();
    await producer.send(responses, [
      responseRecord(runId, 'alone', 'big', 'only the big model answered'),
      responseRecord(runId, 'both', 'small', 'small answer'),
      responseRecord(runId, 'both', 'big', 'big answer'),
    ]);
    const status = async () => (await pairer.client.getPairing({ jobId })).job!.status!;
    await waitFor(async () => (await status()).dropped.missing_side === 1n);
    expect((await status()).pairsWritten).toBe(1n);

    await producer.send(responses, [responseRecord(runId, 'alone', 'small', 'too late')]);
    await producer.disconnect();
    await waitFor(async () => (await status()).dropped.duplicate === 1n);
    const { job } = await pairer.client.cancelPairing({ jobId });
    expect(job?.meta?.state).toBe(JobState.CANCELLED);
    expect(readExport(path.join(outputs, 'streaming.jsonl')).map((l) => l.prompt_id))
      .toEqual(['both']);
  });
});

describe('a failed transaction', () => {
  /** Responses of 21 prompts; one prompt's pair is too big for a pairs topic limited to 4000. */
  async function tooBigForThePairsTopic(client = pairer.client) {
    const runId = uniqueName('run');
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    // A pairs topic that refuses the big pair below until its limit is raised.
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    await admin.ensureTopics([{ topic: responses },
      { topic: pairs, config: { 'max.message.bytes': '4000' } }]);
    const producer = stream.producer();
    await producer.send(responses, [
      ...Array.from({ length: 20 }, (_, i) => ['big', 'small'].map((m) =>
        responseRecord(runId, `p-${i}`, m, `${m} says ${i}`))).flat(),
      responseRecord(runId, 'long', 'big', 'b'.repeat(6000)),
      responseRecord(runId, 'long', 'small', 's'.repeat(6000)),
    ]);
    await producer.disconnect();
    const { jobId } = await client.startPairing({ runId, spec: {
      models: ['big', 'small'], policy: { case: 'ladder', value: { order: ['big', 'small'] } },
      responsesTopic: responses.name, pairsTopic: pairs.name, untilEnd: true,
    } });
    return { jobId, pairs };
  }

  it('restarts the job from its state topic and writes each pair once', async () => {
    const { jobId, pairs } = await tooBigForThePairsTopic();
    // Each restart takes the transactional id over again and rebuilds the join: a restore.
    const restores = () => telemetry.spans().filter((s) => s.name === 'pairer restore'
      && s.attributes['delta.job_id'] === jobId).length;
    await waitFor(() => restores() >= 2, 60_000);
    const raw = stream.kafka.admin();
    await raw.connect();
    await raw.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: pairs.name,
      configEntries: [{ name: 'max.message.bytes', value: '1048576' }] }] });
    await raw.disconnect();
    const job = await waitForEnd(pairer.client, jobId);
    expect(job.meta?.error?.message ?? '').toBe('');
    expect(job.status?.responsesRead).toBe(42n);
    expect(job.status?.pairsWritten).toBe(21n);
    const written = await readPairs(stream, pairs.name);
    expect(written).toHaveLength(21);
    expect(new Set(written.map((p) => p.pairId)).size).toBe(21);
  });

  it('fails the job after repeated failures without progress, naming the cause', async () => {
    const quick = await startPairer(pairerEnv({ DELTA_PAIRER_RESTART_BACKOFF_MS: '10' }),
      telemetry);
    const { jobId } = await tooBigForThePairsTopic(quick.client);
    const job = await waitForEnd(quick.client, jobId);
    await quick.service.stop('test over');
    expect(job.meta?.state).toBe(JobState.FAILED);
    expect(job.meta?.error?.code).toBe('UNAVAILABLE');
    expect(job.meta?.error?.message).toMatch(/^the job's transactions failed 6 times in a row /);
    expect(job.meta?.error?.message).toMatch(/was aborted: The request included a message larger/);
  });
});

describe('limits', () => {
  it('fails a job holding more prompts than allowed while they wait for a side', async () => {
    const small = await startPairer(pairerEnv({ DELTA_PAIRER_MAX_PENDING: '3' }), telemetry);
    try {
      const runId = uniqueName('run');
      const responses = topic(uniqueName('delta.responses'), ResponseSchema);
      await admin.ensureTopics([{ topic: responses }]);
      const producer = stream.producer();
      await producer.send(responses, [1, 2, 3, 4, 5].map((i) =>
        responseRecord(runId, `p-${i}`, 'big', 'waiting for small')));
      await producer.disconnect();
      const { jobId } = await small.client.startPairing({ runId, spec: {
        models: ['big', 'small'], policy: { case: 'ladder', value: { order: ['big', 'small'] } },
        responsesTopic: responses.name, pairsTopic: uniqueName('delta.pairs'), untilEnd: true,
      } });
      const job = await waitForEnd(small.client, jobId);
      expect(job.meta?.state).toBe(JobState.FAILED);
      expect(job.meta?.error?.code).toBe('RESOURCE_EXHAUSTED');
      expect(job.meta?.error?.message).toMatch(/^5 prompts wait for a side, above DELTA_PAIRER_MAX/);
    } finally {
      await small.service.stop('test over');
    }
  });
});

describe('bad requests', () => {
  it('names every field at fault', async () => {
    const error = await pairer.client.startPairing({ spec: {
      models: ['a', 'a', 'gpt2'],
      policy: { case: 'ladder', value: { pairs: [{ chosen: 'b', rejected: 'a' }] } },
      pairsTopic: 'no spaces allowed', missingSideTimeoutMs: 10 ** 9,
      import: { file: 'gsm8k/model_solutions.jsonl', format: 'csv' },
    } }).catch((e) => e);
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    for (const field of ['spec.pairs_topic', 'spec.models[1]', 'spec.ladder.order',
      'spec.missing_side_timeout_ms', 'spec.import.format']) {
      expect(error.message).toContain(`${field}:`);
    }
    const noPolicy = await pairer.client.startPairing({ spec: { models: ['a', 'b'] } })
      .catch((e) => e);
    expect(noPolicy.message).toBe('spec.policy: required: give ladder or score');
    const scorer = await pairer.client.startPairing({ spec: { models: ['a', 'b'],
      policy: { case: 'score', value: { scorer: 'vibes' } } } }).catch((e) => e);
    expect(scorer.message).toBe('spec.score.scorer: "vibes" is not one of record, gsm8k, math');
    const order = await pairer.client.startPairing({ spec: { models: ['a', 'b'],
      policy: { case: 'ladder', value: { order: ['a', 'b'],
        pairs: [{ chosen: 'b', rejected: 'a' }] } } } }).catch((e) => e);
    expect(order.message).toBe('spec.ladder.pairs[0]: "b" does not rank above "a" in ' +
      'spec.ladder.order');
  });

  it('refuses files outside the roots', async () => {
    const spec = { models: ['a-7b', 'b-1b'], policy: { case: 'ladder' as const, value: {} } };
    const outside = await pairer.client.startPairing({ spec: { ...spec,
      import: { file: '/etc/passwd', format: 'responses' } } }).catch((e) => e);
    expect(outside.code).toBe(Code.PERMISSION_DENIED);
    expect(outside.message)
      .toMatch(/^spec.import.file: "\/etc\/passwd" is outside the allowed roots/);
    const escape = await pairer.client.startPairing({ spec: { ...spec,
      exportFile: '../elsewhere.jsonl' } }).catch((e) => e);
    expect(escape.code).toBe(Code.PERMISSION_DENIED);
  });

  it('fails a job whose import file has a bad line, naming the line', async () => {
    const { jobId } = await pairer.client.startPairing({ spec: {
      models: ['a-7b', 'b-1b'], policy: { case: 'ladder', value: {} }, untilEnd: true,
      responsesTopic: uniqueName('delta.responses'), pairsTopic: uniqueName('delta.pairs'),
      import: { file: 'gsm8k/test.jsonl', format: 'gsm8k-model-solutions' },
    } });
    const job = await waitForEnd(pairer.client, jobId);
    expect(job.meta?.state).toBe(JobState.FAILED);
    expect(job.meta?.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(job.meta?.error?.message).toMatch(/^spec.import.file: .*test.jsonl line 1: field "id"/);
  });
});
