// The trainer served for real: gRPC on loopback, jobs and pairs on a real broker. Specs are
// checked field by field, paths stay inside the roots, and one run goes end to end: pairs
// written to the topic in transactions -> a trained checkpoint whose reward accuracy rose, and
// an ONNX export that generates the same tokens as the engine's weights.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  Device, JobState, PairSchema, TrainerService, type TrainingJob,
} from '@delta/contracts';
import { loadTrainerCheckpoint, Model } from '@delta/engine';
import { LanguageModel } from '@delta/lm';
import { Code, createClient, type Client } from '@delta/rpc';
import { startJobService, type RunningService } from '@delta/service';
import { createStream, encodeValue } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainerDefinition, trainerEnvSpec } from '../src/index.js';
import { readPairsTopic } from '../src/pairs-topic.js';
import { scratch } from './support/scratch.js';
import {
  arithmeticPairs, writePairsFile, writeStudent, type ArithmeticPair,
} from './support/student.js';

let telemetry: TestTelemetry;
let service: RunningService<TrainingJob>;
let client: Client<typeof TrainerService>;
let roots: { models: string; data: string; out: string };
const stream = createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!,
  clientId: 'trainer-test' });

beforeAll(async () => {
  const base = scratch('service');
  roots = { models: path.join(base, 'models'), data: path.join(base, 'data'),
    out: path.join(base, 'out') };
  await writeStudent(path.join(roots.models, 'student'));
  writePairsFile(path.join(roots.data, 'pairs.jsonl'), arithmeticPairs(16));
  telemetry = await startTestTelemetry('trainer-test');
  service = await startJobService(trainerDefinition, {
    externalTelemetry: telemetry,
    env: {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS,
      DELTA_GRPC_PORT: '0',
      DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'trainer-test',
      DELTA_LOG_LEVEL: 'silent',
      DELTA_MODEL_ROOTS: roots.models,
      DELTA_DATA_ROOTS: roots.data,
      DELTA_OUTPUT_ROOTS: roots.out,
      DELTA_TRAINER_THREADS: '1',
      DELTA_TRAINER_READ_TIMEOUT_MS: '30000',
    },
  });
  client = createClient(TrainerService, service.server.address);
});

afterAll(async () => {
  await service?.stop('test over');
  await telemetry?.shutdown();
});

async function finished(jobId: string): Promise<TrainingJob> {
  let last: TrainingJob | undefined;
  for await (const { job } of client.watchTraining({ jobId })) last = job;
  return last!;
}

const fileSpec = (outputDir: string, config: Record<string, unknown> = {}) => ({
  student: 'student', pairs: { source: { case: 'file' as const, value: 'pairs.jsonl' } },
  preset: 'tiny', outputDir, skipOnnxExport: true,
  config: { maxSteps: 2, checkpointEvery: 0, ...config },
});

describe('StartTraining checks the spec', () => {
  it('names every field at fault in one INVALID_ARGUMENT', async () => {
    await expect(client.startTraining({})).rejects
      .toMatchObject({ code: Code.INVALID_ARGUMENT, message: 'spec: required' });
    await expect(client.startTraining({ spec: { preset: 'huge' } })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.student: required; spec.output_dir: required; spec.preset: "huge" is not ' +
        'one of paper, tiny',
    });
    await expect(client.startTraining({ spec: fileSpec('x', {
      loss: 'kto', beta: 0, learningRate: -1, batchSize: 4, microBatchSize: 8, maxLength: 1,
    }) })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: 'spec.config.loss: "kto" is not one of sft, sigmoid, dpo_norm, robust, ipo, ' +
        'hinge, simpo; spec.config.beta: 0 must be in (0, 1e6]; a zero beta never moves the ' +
        'policy away from the reference; spec.config.learning_rate: -1 must be in (0, 10]; ' +
        'spec.config.micro_batch_size: 8 is outside [1, 4]; spec.config.max_length: 1 is ' +
        'outside [2, 32768]',
    });
  });

  it('refuses a max_length beyond the student\'s context', async () => {
    await expect(client.startTraining({ spec: fileSpec('x', { maxLength: 4096 }) })).rejects
      .toMatchObject({ code: Code.INVALID_ARGUMENT, message: 'spec.config.max_length: 4096 is ' +
        'above the student\'s context length 256 (config.json max_position_embeddings)' });
  });

  it('keeps every path inside its roots', async () => {
    await expect(client.startTraining({ spec: { ...fileSpec('x'), student: '/etc' } })).rejects
      .toMatchObject({ code: Code.PERMISSION_DENIED,
        message: expect.stringMatching(/^spec.student: "\/etc" is outside the allowed roots/) });
    await expect(client.startTraining({ spec: { ...fileSpec('../escape') } })).rejects
      .toMatchObject({ code: Code.PERMISSION_DENIED,
        message: expect.stringMatching(/^spec.output_dir: "..\/escape" is outside/) });
    await expect(client.startTraining({ spec: { ...fileSpec('x'),
      pairs: { source: { case: 'file', value: 'missing.jsonl' } } } })).rejects
      .toMatchObject({ code: Code.INVALID_ARGUMENT,
        message: 'spec.pairs.file: "missing.jsonl" not found' });
  });

  it('refuses CUDA while the engine has no CUDA backend', async () => {
    await expect(client.startTraining({ spec: { ...fileSpec('x'), device: Device.CUDA } }))
      .rejects.toMatchObject({ code: Code.FAILED_PRECONDITION,
        message: expect.stringMatching(
          /^spec.device: DEVICE_CUDA is not available: this build of the engine computes on cpu/),
      });
  });

  it('fills the preset and the default topic into the stored spec', async () => {
    const { job } = await client.startTraining({ spec: fileSpec('filled') });
    expect(job?.spec?.config).toMatchObject({ loss: 'dpo_norm', beta: 5, learningRate: 1e-3,
      schedule: 'cosine_min', batchSize: 8, maxSteps: 2, evalFraction: 0.1 });
    await finished(job!.meta!.jobId);
    const { job: paper } = await client.startTraining({ runId: 'run-none', spec: {
      student: 'student', outputDir: 'default-topic' } });
    expect(paper?.spec?.pairs?.source).toEqual({ case: 'topic', value: 'delta.pairs' });
    expect(paper?.spec?.config).toMatchObject({ loss: 'dpo_norm', beta: 5, learningRate: 5e-8,
      warmupRatio: 0.03, minLrRatio: 0.1, weightDecay: 0, batchSize: 32, epochs: 1 });
    // The paper's 2048 tokens give way to the student's context of 256.
    expect(paper?.spec?.config?.maxLength).toBe(256);
    await finished(paper!.meta!.jobId);
  });

  it('lists the trainer\'s variables', () => {
    expect(Object.values(trainerEnvSpec).map((v) => v.name)).toEqual([
      'DELTA_TRAINER_THREADS', 'DELTA_TRAINER_MAX_PAIRS', 'DELTA_TRAINER_MAX_LENGTH',
      'DELTA_TRAINER_MAX_BATCH', 'DELTA_TRAINER_READ_TIMEOUT_MS',
      'DELTA_TRAINER_KEEP_CHECKPOINTS', 'DELTA_TRAINER_REFERENCE_CHUNK',
      'DELTA_TRAINER_EVAL_MAX_PAIRS',
    ]);
  });
});

describe('training jobs', () => {
  it('reports skipped lines by number and fails a folder of another spec', async () => {
    writeFileSync(path.join(roots.data, 'bad.jsonl'), [
      JSON.stringify({ id: 'a', prompt: 'What is 1 plus 2?', chosen: '3.', rejected: '4.' }),
      '{oops',
      JSON.stringify({ id: 'b', prompt: 'What is 2 plus 2?', chosen: '4.', rejected: '' }),
      JSON.stringify({ id: 'c', prompt: 'What is 3 plus 2?', chosen: '5.', rejected: '7.' }),
    ].join('\n'));
    const spec = { ...fileSpec('lines'), pairs: { source: { case: 'file' as const,
      value: 'bad.jsonl' } } };
    const done = await finished((await client.startTraining({ spec })).jobId);
    expect(done.meta?.state).toBe(JobState.SUCCEEDED);
    expect(done.status?.rejected).toEqual(['line 2: not valid JSON']);
    expect(done.status?.dropped).toEqual({ malformed: 1n, empty_response: 1n });

    const other = await finished((await client.startTraining({ spec: { ...spec,
      config: { ...spec.config, learningRate: 5e-4 } } })).jobId);
    expect(other.meta?.state).toBe(JobState.FAILED);
    expect(other.meta?.error?.code).toBe('FAILED_PRECONDITION');
    expect(other.meta?.error?.message).toMatch(/holds a run with other settings/);
  });

  it('cancels with a usable checkpoint, and a new job on the folder resumes it', async () => {
    const spec = fileSpec('cancel', { maxSteps: 400, epochs: 200, checkpointEvery: 0 });
    const { jobId } = await client.startTraining({ spec });
    for await (const { job } of client.watchTraining({ jobId })) {
      if ((job?.status?.step ?? 0) >= 5) break;
    }
    const { job } = await client.cancelTraining({ jobId });
    expect(job?.meta?.state).toBe(JobState.CANCELLED);
    const step = job!.status!.step;
    expect(job?.status?.checkpointDir).toBe(`cancel/checkpoints/step-${step}`);
    const kept = await loadTrainerCheckpoint(path.join(roots.out, job!.status!.checkpointDir));
    expect(kept.trainer.stepsDone).toBe(step);

    const again = await finished((await client.startTraining({ spec })).jobId);
    expect(again.meta?.state).toBe(JobState.SUCCEEDED);
    const lines = readFileSync(path.join(roots.out, 'cancel/metrics.jsonl'), 'utf8')
      .split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; split: string });
    expect(lines.filter((l) => l.split === 'step').map((l) => l.step))
      .toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  });

  it('fails a topic that does not exist and a run without pairs', async () => {
    const spec = (topic: string) => ({ ...fileSpec(uniqueName('none')),
      pairs: { source: { case: 'topic' as const, value: topic } } });
    const missing = await finished((await client.startTraining({
      spec: spec(uniqueName('delta.pairs')) })).jobId);
    expect(missing.meta?.error).toMatchObject({ code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/^spec.pairs.topic: topic delta.pairs.t-.* does not exist$/),
    });

    const topic = uniqueName('delta.pairs');
    await stream.admin().ensureTopics([{ topic, partitions: 2 }]);
    const empty = await finished((await client.startTraining({ runId: 'run-empty',
      spec: spec(topic) })).jobId);
    expect(empty.meta?.error).toMatchObject({ code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/^spec.pairs.topic: no pairs of run run-empty in/) });
  });
});

/** Writes pairs the way the pairer does: in Kafka transactions, keyed by prompt id. */
async function writePairs(topic: string, runId: string, pairs: readonly ArithmeticPair[],
  commit = true, idPrefix = 'pair'): Promise<void> {
  const producer = stream.kafka.producer({ transactionalId: uniqueName('pairer'),
    idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({ topic, messages: pairs.map((p) => ({
    key: p.id,
    value: encodeValue(PairSchema, {
      runId, pairId: `${idPrefix}-${p.id}`, promptId: p.id, prompt: p.prompt, policy: 'ladder',
      chosen: { model: 'big', text: p.chosen }, rejected: { model: 'small', text: p.rejected },
    }),
  })) });
  if (commit) await transaction.commit();
  else await transaction.abort();
  await producer.disconnect();
}

describe('reading a run\'s pairs from the topic', () => {
  it('orders them by content, so two runs over the same pairs train on the same order', async () => {
    const topic = uniqueName('delta.pairs');
    await stream.admin().ensureTopics([{ topic, partitions: 3 }]);
    const pairs = arithmeticPairs(12);
    // The pairer's ids differ between runs (they include the run id); so does write order.
    await writePairs(topic, 'run-a', pairs, true, 'run-a');
    await writePairs(topic, 'run-b', [...pairs].reverse(), true, 'run-b');
    const read = (runId: string) => readPairsTopic(stream, topic, runId,
      { timeoutMs: 60_000, maxPairs: 100 });
    const [a, b] = [await read('run-a'), await read('run-b')];
    expect(a.pairs).toHaveLength(12);
    expect(b.pairs.map((p) => p.chosen)).toEqual(a.pairs.map((p) => p.chosen));
    expect(a.pairs.map((p) => p.chosen)).not.toEqual(pairs.map((p) => p.chosen));
  });
});

describe('end to end through the broker', () => {
  it('trains on a run\'s pairs from the topic and exports a model that generates', async () => {
    const topic = uniqueName('delta.pairs');
    await stream.admin().ensureTopics([{ topic, partitions: 3 }]);
    const pairs = arithmeticPairs(32);
    await writePairs(topic, 'run-e2e', pairs.slice(0, 20));
    await writePairs(topic, 'run-e2e', arithmeticPairs(5, 100), false); // aborted: never read
    await writePairs(topic, 'run-other', arithmeticPairs(6, 200));
    await writePairs(topic, 'run-e2e', pairs.slice(18)); // two repeats of the same pair ids

    const traceId = await telemetry.tracer('test').startActiveSpan('client', async (span) => {
      const { jobId } = await client.startTraining({ runId: 'run-e2e', spec: {
        student: 'student', pairs: { source: { case: 'topic', value: topic } }, preset: 'tiny',
        outputDir: 'e2e', config: { maxSteps: 24, epochs: 6, checkpointEvery: 12,
          evalFraction: 0 },
      } });
      const done = await finished(jobId);
      expect(done.meta?.state, done.meta?.error?.message).toBe(JobState.SUCCEEDED);
      span.end();
      const s = done.status!;
      expect(s.pairsUsed).toBe(32n);
      expect(s.dropped).toEqual({ duplicate: 2n });
      expect(s.step).toBe(24);
      expect([s.modelDir, s.onnxPath, s.checkpointDir, s.metricsFile]).toEqual(['e2e/model',
        'e2e/model/onnx/model.onnx', 'e2e/checkpoints/step-24', 'e2e/metrics.jsonl']);
      // Reward accuracy on the training pairs rose from 0 (policy = reference) to all of them.
      const lines = readFileSync(path.join(roots.out, s.metricsFile), 'utf8').split('\n')
        .filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | string>);
      expect(lines[0]).toMatchObject({ step: 1, reward_accuracy: 0 });
      expect(s.evalStep).toBe(24);
      expect(s.evalRewardAccuracy).toBe(1);
      expect(s.evalRewardMargin).toBeGreaterThan(1);
      return span.spanContext().traceId;
    });

    // The data set is the run's 32 committed pairs, up to the end offsets at job start.
    const source = JSON.parse(readFileSync(path.join(roots.out, 'e2e/data/source.json'), 'utf8'));
    expect(source.pairs).toBe(32);
    expect(Object.keys(source.source.endOffsets)).toEqual(['0', '1', '2']);

    // The export serves: ONNX Runtime's greedy tokens equal the engine's on the tuned weights.
    const modelDir = path.join(roots.out, 'e2e/model');
    expect(existsSync(path.join(modelDir, 'tokenizer.json'))).toBe(true);
    const lm = await LanguageModel.load(modelDir, { threads: 1 });
    const [[response]] = await lm.generate([{ id: 'q', messages: [
      { role: 'user', content: 'What is 2 plus 3?' }], maxNewTokens: 8 }]);
    expect(response!.tokenIds.length).toBeGreaterThan(0);
    const engine = await Model.load(modelDir, { threads: 1 });
    const prompt = lm.files.tokenizer!.encode(lm.files.tokenizer!.renderChat(
      [{ role: 'user', content: 'What is 2 plus 3?' }], true), false);
    const greedy = [...prompt];
    for (let i = 0; i < response!.tokenIds.length; i++) {
      const { data, T, V } = await engine.logits({ inputIds: [greedy] });
      const row = data.subarray((T - 1) * V, T * V);
      greedy.push(row.indexOf(Math.max(...row)));
    }
    expect(greedy.slice(prompt.length)).toEqual(response!.tokenIds);

    // The same figures as OpenTelemetry metrics and spans in the caller's trace.
    const names = new Set((await telemetry.collectMetrics()).scopeMetrics
      .flatMap((s) => s.metrics.map((m) => m.descriptor.name)));
    for (const name of ['delta.trainer.loss', 'delta.trainer.reward.accuracy',
      'delta.trainer.reward.margin', 'delta.trainer.logp.chosen', 'delta.trainer.learning_rate',
      'delta.trainer.tokens_per_second', 'delta.trainer.eta', 'delta.trainer.steps',
      'delta.trainer.eval.reward.accuracy', 'delta.trainer.pairs.dropped']) {
      expect(names, name).toContain(name);
    }
    const spans = telemetry.spans().filter((s) => s.spanContext().traceId === traceId);
    expect(spans.filter((s) => s.name === 'train step')).toHaveLength(24);
    expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining(['training job',
      'read pairs', 'reference log-probs', 'checkpoint', 'export']));
  });
});

describe('a service stopped with a job running', () => {
  it('checkpoints the job on the way out and resumes it when started again', async () => {
    const env = {
      DELTA_KAFKA_BROKERS: process.env.DELTA_KAFKA_BROKERS,
      DELTA_GRPC_PORT: '0',
      DELTA_JOBS_TOPIC: uniqueName('delta.jobs'),
      DELTA_INSTANCE_ID: 'trainer-rolling',
      DELTA_LOG_LEVEL: 'silent',
      DELTA_MODEL_ROOTS: roots.models,
      DELTA_DATA_ROOTS: roots.data,
      DELTA_OUTPUT_ROOTS: roots.out,
      DELTA_TRAINER_THREADS: '1',
    };
    const first = await startJobService(trainerDefinition, { externalTelemetry: telemetry, env });
    const spec = fileSpec('rolling', { maxSteps: 300, epochs: 200, checkpointEvery: 0 });
    const firstClient = createClient(TrainerService, first.server.address);
    const { jobId } = await firstClient.startTraining({ spec });
    for await (const { job } of firstClient.watchTraining({ jobId })) {
      if ((job?.status?.step ?? 0) >= 5) break;
    }
    await first.stop('rolling restart');

    const second = await startJobService(trainerDefinition, { externalTelemetry: telemetry, env });
    try {
      const again = createClient(TrainerService, second.server.address);
      let last: TrainingJob | undefined;
      for await (const { job } of again.watchTraining({ jobId })) last = job;
      expect(last?.meta?.state).toBe(JobState.SUCCEEDED);
      expect(last?.status?.step).toBe(300);
      const events = readFileSync(path.join(roots.out, 'rolling/events.jsonl'), 'utf8')
        .split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; step: number });
      expect(events.map((e) => e.event)).toEqual(['start', 'stop', 'resume', 'end']);
      expect(events[2]!.step).toBe(events[1]!.step);
    } finally {
      await second.stop('test over');
    }
  });
});
