// Two generator replicas. Sharing a prompts topic as one consumer group, together they answer
// every prompt once, each taking part, and both jobs end when the group has read the topic to
// the end it had at their start - also past transaction markers and records that are not
// prompts. Given the same prompt file for one run and model, the later job takes over and the
// earlier one stops, so no prompt is answered twice.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GeneratorService, PromptSchema, ResponseSchema, type GenerationJob,
} from '@delta/contracts';
import type { Client } from '@delta/rpc';
import type { RunningService } from '@delta/service';
import { topic } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptsGroupId } from '../src/index.js';
import {
  freshTopics, generatorEnv, readTopic, serveGenerator, stateName, tempDir, testStream,
  tinyModel, watchToEnd, writeJsonl,
} from './helpers.js';

const stream = testStream();
let telemetry: TestTelemetry;
const services: RunningService<GenerationJob>[] = [];
const clients: Client<typeof GeneratorService>[] = [];
let modelRoot: string;
let dataRoot: string;

beforeAll(async () => {
  telemetry = await startTestTelemetry('generator-topic-test');
  modelRoot = tempDir('models');
  dataRoot = tempDir('data');
  tinyModel(modelRoot, 'rung-t', { hidden: 128, layers: 4 });
  const jobsTopic = uniqueName('delta.jobs');
  for (const instanceId of ['generator-a', 'generator-b']) {
    const { service, client } = await serveGenerator(generatorEnv({
      jobsTopic, instanceId, modelRoots: modelRoot, dataRoots: dataRoot,
    }), telemetry);
    services.push(service);
    clients.push(client);
  }
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('tests over')));
  await telemetry?.shutdown();
});

/**
 * N prompts: the first half sent plainly, the rest in one transaction (a marker follows it),
 * with a record that is not a Prompt and a Prompt without messages unless `junk` is false.
 */
async function fillPrompts(name: string, count: number, junk = true): Promise<void> {
  const prompts = topic(name, PromptSchema);
  const records = Array.from({ length: count }, (_, i) => ({
    key: `q${i}`,
    value: create(PromptSchema, { promptId: `q${i}`, task: 'story',
      messages: [{ role: 'user', content: `Tell story number ${i}.` }] }),
  }));
  const plain = stream.producer();
  await plain.send(prompts, records.slice(0, count / 2));
  await plain.disconnect();

  const producer = stream.kafka.producer({ transactionalId: uniqueName('delta.test.prompts'),
    idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.send({ topic: name, messages: [
    ...records.slice(count / 2).map((r) => ({ key: r.key,
      value: Buffer.from(toBinary(PromptSchema, r.value)) })),
    ...(junk ? [
      { key: 'junk', value: Buffer.from('not a prompt') },
      { key: 'empty', value: Buffer.from(toBinary(PromptSchema,
        create(PromptSchema, { promptId: 'empty' }))) },
    ] : []),
  ] });
  await transaction.commit();
  await producer.disconnect();
}

describe('replicas sharing a prompts topic', () => {
  it('answer each prompt once between them, both taking part', async () => {
    const [promptsTopic, responsesTopic] = await freshTopics(stream,
      ['delta.prompts', 4], ['delta.responses', 4]);
    // Enough prompts that the second replica joins the group before the first could answer
    // them all, even on a loaded machine.
    const count = 192;
    await fillPrompts(promptsTopic!, count);
    const runId = uniqueName('run');
    const spec = {
      model: 'rung-t', prompts: { source: { case: 'topic' as const, value: promptsTopic! } },
      sampling: { maxNewTokens: 48 }, batchSize: 2, responsesTopic: responsesTopic!,
    };

    const started = await Promise.all(clients.map((c) => c.startGeneration({ runId, spec })));
    const jobs = await Promise.all(started.map((s, i) => watchToEnd(clients[i]!, s.jobId)));
    expect(jobs.map(stateName)).toEqual(['SUCCEEDED', 'SUCCEEDED']);

    const done = jobs.map((j) => Number(j.status!.promptsDone));
    expect(done[0]! + done[1]!).toBe(count);
    expect(done.every((d) => d > 0)).toBe(true);
    const rejected = jobs.flatMap((j) => j.status!.rejected);
    expect(rejected).toHaveLength(2);
    expect(rejected).toEqual(expect.arrayContaining([
      expect.stringMatching(
        new RegExp(`^${promptsTopic}\\[\\d\\]@\\d+: not a delta.v1.Prompt \\(`)),
      expect.stringMatching(new RegExp(`^${promptsTopic}\\[\\d\\]@\\d+: prompt empty: ` +
        'messages is empty$')),
    ]));

    const records = await readTopic(stream, responsesTopic!, ResponseSchema);
    const ids = records.map((r) => r.value.promptId);
    expect(ids).toHaveLength(count);
    expect(new Set(ids).size).toBe(count);
    expect(new Set(records.map((r) => r.value.jobId))).toEqual(new Set(started.map((s) =>
      s.jobId)));
    expect(records.every((r) => r.value.task === 'story' && r.value.model === 'rung-t'))
      .toBe(true);

    // The group's position is at the end of every partition, transaction markers included.
    const admin = stream.admin();
    try {
      const ends = await admin.endOffsets(promptsTopic!);
      const committed = await admin.committedOffsets(promptsGroupId(runId, 'rung-t'),
        promptsTopic!);
      expect(committed).toEqual(ends);
    } finally {
      await admin.disconnect();
    }
  });

  it('ends a job at once when the topic holds nothing for it, and honours limit', async () => {
    const [promptsTopic, responsesTopic] = await freshTopics(stream,
      ['delta.prompts', 2], ['delta.responses', 2]);
    const runId = uniqueName('run');
    const spec = {
      model: 'rung-t', prompts: { source: { case: 'topic' as const, value: promptsTopic! } },
      sampling: { maxNewTokens: 4 }, responsesTopic: responsesTopic!,
    };
    const empty = await watchToEnd(clients[0]!,
      (await clients[0]!.startGeneration({ runId, spec })).jobId);
    expect(stateName(empty)).toBe('SUCCEEDED');
    expect(empty.status!.promptsDone).toBe(0n);

    await fillPrompts(promptsTopic!, 8, false);
    const limited = await watchToEnd(clients[0]!, (await clients[0]!.startGeneration({
      runId, spec: { ...spec, prompts: { ...spec.prompts, limit: 3 } } })).jobId);
    expect(stateName(limited)).toBe('SUCCEEDED');
    expect(limited.status!.promptsDone).toBe(3n);

    const rest = await watchToEnd(clients[1]!,
      (await clients[1]!.startGeneration({ runId, spec })).jobId);
    expect(stateName(rest)).toBe('SUCCEEDED');
    expect(rest.status!.promptsDone).toBe(5n);
    expect(rest.status!.promptsSkipped).toBe(0n);
    expect(await readTopic(stream, responsesTopic!, ResponseSchema)).toHaveLength(8);
  });
});

describe('two jobs over one prompt file for the same run and model', () => {
  it('lets the later one take over: the earlier stops with ABORTED, no prompt twice', async () => {
    const [responsesTopic] = await freshTopics(stream, ['delta.responses', 2]);
    const file = writeJsonl(dataRoot, 'shared.jsonl',
      Array.from({ length: 30 }, (_, i) => ({ id: `s${i}`, prompt: `Shared ${i}` })));
    const runId = uniqueName('run');
    const spec = {
      model: 'rung-t', prompts: { source: { case: 'file' as const, value: file } },
      sampling: { maxNewTokens: 48 }, batchSize: 2, responsesTopic: responsesTopic!,
    };
    const first = await clients[0]!.startGeneration({ runId, spec });
    for await (const { job } of clients[0]!.watchGeneration({ jobId: first.jobId })) {
      if ((job!.status?.promptsDone ?? 0n) >= 4n) break;
    }
    const second = await clients[1]!.startGeneration({ runId, spec });

    const [earlier, later] = await Promise.all([watchToEnd(clients[0]!, first.jobId),
      watchToEnd(clients[1]!, second.jobId)]);
    // The broker answers a commit that meets the fence with a fencing error or, when the two
    // cross, an unexpected one; both end the earlier job ABORTED.
    expect(stateName(earlier)).toMatch(
      /^FAILED: ABORTED (another generation job writes the|the broker refused the transaction)/);
    expect(stateName(later)).toBe('SUCCEEDED');
    expect(later.status!.promptsSkipped).toBeGreaterThanOrEqual(4n);
    expect(Number(earlier.status!.promptsDone) + Number(later.status!.promptsDone)).toBe(30);

    const ids = (await readTopic(stream, responsesTopic!, ResponseSchema))
      .map((r) => r.value.promptId);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
  });
});
