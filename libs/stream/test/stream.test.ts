// Typed records through a real Apache Kafka broker (DELTA_KAFKA_BROKERS or a throwaway one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import kafkajs from 'kafkajs';
import { FinishReason, PairSchema, ResponseSchema, type Response } from '@delta/contracts';
import {
  StreamError,
  createStream,
  output,
  topic,
  type ReceivedRecord,
  type Stream,
  type StreamAdmin,
} from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';

let stream: Stream;
let admin: StreamAdmin;

beforeAll(async () => {
  stream = createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId: 'stream-test' });
  admin = stream.admin();
});
afterAll(async () => {
  await admin.disconnect();
});

function response(i: number, promptId = `p-${i}`) {
  return {
    key: promptId,
    value: {
      runId: 'run-1',
      promptId,
      model: 'rung-2',
      text: `answer ${i}`,
      finishReason: FinishReason.STOP,
      completionTokens: i,
    },
  };
}

function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error('timed out waiting'));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe('typed topics on a real broker', () => {
  it('round-trips protobuf values, keys and headers; a key stays in one partition', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses, partitions: 3 }]);
    const producer = stream.producer();
    const sent = [response(1, 'gsm8k-1'), response(2, 'gsm8k-2'), response(3, 'gsm8k-1')];
    await producer.send(
      responses,
      sent.map((r) => ({ ...r, headers: { 'delta-run': 'run-1' } })),
    );
    await producer.disconnect();

    const consumer = stream.consumer({ groupId: uniqueName('g') });
    const got: ReceivedRecord<typeof ResponseSchema>[] = [];
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (record) => {
        got.push(record);
      },
    });
    await waitFor(() => got.length === 3);
    await consumer.disconnect();

    const byText = new Map(got.map((r) => [r.value.text, r]));
    expect([...byText.keys()].sort()).toEqual(['answer 1', 'answer 2', 'answer 3']);
    const first = byText.get('answer 1')!;
    expect(first.key).toBe('gsm8k-1');
    expect(first.value.$typeName).toBe('delta.v1.Response');
    expect(first.value.finishReason).toBe(FinishReason.STOP);
    expect(first.value.completionTokens).toBe(1);
    expect(first.headers['delta-run']).toBe('run-1');
    expect(byText.get('answer 3')!.partition).toBe(first.partition);
    expect(await admin.endOffsets(responses)).toSatisfy(
      (m: Map<number, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n) === 3n,
    );
  });

  it('resumes a restarted consumer after its last commit: none lost, none repeated', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses, partitions: 2 }]);
    const producer = stream.producer();
    await producer.send(
      responses,
      Array.from({ length: 40 }, (_, i) => response(i)),
    );
    await producer.disconnect();
    const groupId = uniqueName('pairer');

    // First consumer: handle records until 15 are done, then stop mid-stream.
    const first: string[] = [];
    const firstRecords: { partition: number; offset: string; text: string }[] = [];
    const a = stream.consumer({ groupId });
    await a.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (record) => {
        await new Promise((r) => setTimeout(r, 10));
        first.push(record.value.text);
        firstRecords.push({
          partition: record.partition,
          offset: record.offset,
          text: record.value.text,
        });
      },
    });
    await waitFor(() => first.length >= 15);
    await a.disconnect();
    // A record handled while disconnect() ran may be left uncommitted (and so seen again);
    // every record the first consumer committed is behind the group's offsets.
    const committed = await admin.committedOffsets(groupId, responses);
    const committedCount = [...committed.values()].reduce((s, o) => s + (o < 0n ? 0n : o), 0n);
    expect(Number(committedCount)).toBeGreaterThanOrEqual(first.length - 1);
    expect(Number(committedCount)).toBeLessThanOrEqual(first.length);
    const committedTexts = firstRecords
      .filter((r) => BigInt(r.offset) < (committed.get(r.partition) ?? 0n))
      .map((r) => r.text);

    // Second consumer, same group: only the records the first one did not commit.
    const second: string[] = [];
    const b = stream.consumer({ groupId });
    await b.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (record) => {
        second.push(record.value.text);
      },
    });
    await waitFor(() => new Set([...first, ...second]).size >= 40);
    await new Promise((r) => setTimeout(r, 500)); // anything repeated would arrive by now
    await b.disconnect();

    expect(first.length).toBeLessThan(40);
    expect(second.length).toBeGreaterThan(0);
    expect(second.filter((t) => committedTexts.includes(t))).toEqual([]);
    expect([...new Set([...first, ...second])].sort()).toEqual(
      Array.from({ length: 40 }, (_, i) => `answer ${i}`).sort(),
    );
    expect(await admin.lag(groupId, responses)).toBe(0n);
  });

  it('delivers a record again when its handler fails, so a failure loses nothing', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses }]);
    const producer = stream.producer();
    await producer.send(
      responses,
      [0, 1, 2].map((i) => response(i)),
    );
    await producer.disconnect();

    const handled: string[] = [];
    let failedOnce = false;
    const consumer = stream.consumer({ groupId: uniqueName('g') });
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (record) => {
        if (record.value.text === 'answer 1' && !failedOnce) {
          failedOnce = true;
          throw new Error('scorer unavailable');
        }
        handled.push(record.value.text);
      },
    });
    await waitFor(() => handled.length >= 3);
    await consumer.disconnect();
    expect(handled).toEqual(['answer 0', 'answer 1', 'answer 2']);
  });

  it('hands batches to eachBatch and commits them after the handler', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses }]);
    const producer = stream.producer();
    await producer.send(
      responses,
      Array.from({ length: 10 }, (_, i) => response(i)),
    );
    await producer.disconnect();
    const groupId = uniqueName('g');
    const seen: number[] = [];
    const consumer = stream.consumer({ groupId });
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachBatch: async (records) => {
        seen.push(...records.map((r) => r.value.completionTokens));
      },
    });
    await waitFor(() => seen.length === 10);
    await consumer.disconnect();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await admin.committedOffsets(groupId, responses)).toEqual(new Map([[0, 10n]]));
  });

  it('names topic, partition and offset of a value that does not decode', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses }]);
    const raw = stream.kafka.producer({
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
    await raw.connect();
    await raw.send({
      topic: responses.name,
      messages: [
        {
          key: 'ok',
          value: Buffer.from(toBinary(ResponseSchema, create(ResponseSchema, { text: 'fine' }))),
        },
        { key: 'bad', value: Buffer.from([0xff, 0xff, 0xff, 0xff]) },
        {
          key: 'ok2',
          value: Buffer.from(toBinary(ResponseSchema, create(ResponseSchema, { text: 'after' }))),
        },
      ],
    });
    await raw.disconnect();

    const texts: string[] = [];
    const errors: StreamError[] = [];
    const consumer = stream.consumer({ groupId: uniqueName('g') });
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (r) => {
        texts.push(r.value.text);
      },
      onDecodeError: (e) => {
        errors.push(e);
      },
    });
    await waitFor(() => texts.length === 2);
    await consumer.disconnect();

    expect(texts).toEqual(['fine', 'after']);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('DECODE');
    expect(errors[0]!.retriable).toBe(false);
    expect(errors[0]!.record).toEqual({ topic: responses.name, partition: 0, offset: '1' });
    expect(errors[0]!.message).toContain(
      `${responses.name}[0]@1: value is not a delta.v1.Response`,
    );
  });

  it('stops a consumer on a value that does not decode, without onDecodeError', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    await admin.ensureTopics([{ topic: responses }]);
    const raw = stream.kafka.producer({
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
    await raw.connect();
    await raw.send({
      topic: responses.name,
      messages: [{ key: 'bad', value: Buffer.from([0xff, 0xff]) }],
    });
    await raw.disconnect();

    let crash: StreamError | undefined;
    const consumer = stream.consumer({ groupId: uniqueName('g') });
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async () => {},
      onCrash: (e) => {
        crash = e;
      },
    });
    await waitFor(() => crash !== undefined);
    await consumer.disconnect();
    expect(crash!.code).toBe('DECODE');
    expect(crash!.record).toEqual({ topic: responses.name, partition: 0, offset: '0' });
  });
});

describe('the transactional consume-transform-produce helper', () => {
  it('writes each output exactly once across an aborted transaction and restarts', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    // A topic that refuses large records, to make one transaction fail after it wrote pairs.
    const small = topic(uniqueName('delta.small'), PairSchema);
    await admin.ensureTopics([
      { topic: responses, partitions: 2 },
      { topic: pairs, partitions: 2 },
      { topic: small, config: { 'max.message.bytes': '2000' } },
    ]);
    const producer = stream.producer();
    await producer.send(
      responses,
      Array.from({ length: 30 }, (_, i) => response(i)),
    );
    const groupId = uniqueName('pairer');
    const transactionalId = uniqueName('pairer-tx');
    const toPairs = (records: ReceivedRecord<typeof ResponseSchema>[]) =>
      output(
        pairs,
        records.map((r) => ({
          key: r.key,
          value: {
            pairId: `pair-${r.value.promptId}`,
            promptId: r.value.promptId,
            chosen: { model: r.value.model, text: r.value.text },
          },
        })),
      );

    // First instance: its first transaction writes pairs, then fails; the broker aborts it.
    let crash: StreamError | undefined;
    const first = stream.transactor({ groupId, transactionalId });
    await first.run({
      topics: [responses],
      fromBeginning: true,
      onCrash: (e) => {
        crash = e;
      },
      transform: async (records) => [
        toPairs(records),
        output(small, [{ key: 'big', value: { pairId: 'x'.repeat(10_000) } }]),
      ],
    });
    await waitFor(() => crash !== undefined);
    await first.disconnect();
    expect(crash!.code).toBe('TRANSACTION');
    expect(crash!.message).toMatch(/^transaction for .* was aborted/);

    // Second instance, same ids: transforms until it has handled some input, then stops.
    let inputs = 0;
    const second = stream.transactor({ groupId, transactionalId });
    await second.run({
      topics: [responses],
      fromBeginning: true,
      transform: async (records) => {
        inputs += records.length;
        return [toPairs(records)];
      },
    });
    await waitFor(() => inputs >= 10);
    await second.disconnect();

    // More input arrives while none runs; a third instance resumes where the second committed.
    await producer.send(
      responses,
      Array.from({ length: 10 }, (_, i) => response(30 + i)),
    );
    await producer.disconnect();
    const third = stream.transactor({ groupId, transactionalId });
    await third.run({
      topics: [responses],
      fromBeginning: true,
      transform: async (records) => [toPairs(records)],
    });

    const read = async (readCommitted: boolean, atLeast: number) => {
      const seen: string[] = [];
      const reader = stream.consumer({ groupId: uniqueName('reader'), readCommitted });
      await reader.run({
        topics: [pairs],
        fromBeginning: true,
        eachMessage: async (r) => {
          seen.push(r.value.pairId);
        },
      });
      await waitFor(() => seen.length >= atLeast);
      await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive by now
      await reader.disconnect();
      return seen;
    };
    const committed = await read(true, 40);
    await third.disconnect();

    expect(committed).toHaveLength(40);
    expect(new Set(committed).size).toBe(40);
    expect(await admin.lag(groupId, responses)).toBe(0n);
    // The aborted pairs are in the log, visible only to a read_uncommitted reader.
    expect((await read(false, 41)).length).toBeGreaterThan(40);
  });
});

describe('admin and errors', () => {
  it('creates the compacted jobs topic with its config, and deletes topics', async () => {
    const jobs = uniqueName('delta.jobs');
    expect(
      await admin.ensureTopics([{ topic: jobs, config: { 'cleanup.policy': 'compact' } }]),
    ).toEqual([jobs]);
    expect(await admin.ensureTopics([{ topic: jobs }])).toEqual([]);
    expect((await admin.topicConfig(jobs))['cleanup.policy']).toBe('compact');
    await admin.deleteTopics([jobs]);
    await waitFor(() => true);
    expect(await admin.listTopics()).not.toContain(jobs);
  });

  it('fails with a CONNECTION error naming the cause when no broker answers', async () => {
    const offline = createStream({
      brokers: '127.0.0.1:1',
      clientId: 'offline',
      retry: { retries: 1, initialRetryTime: 100 },
      connectionTimeoutMs: 500,
    });
    const producer = offline.producer();
    const error = await producer.send(topic('x', ResponseSchema), [response(0)]).catch((e) => e);
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).code).toBe('CONNECTION');
    expect((error as StreamError).message).toMatch(/producer could not connect/);
  });

  it('sends kafkajs log entries to the injected logger, namespaced', async () => {
    const entries: { level: string; message: string; namespace: unknown }[] = [];
    const record = (level: string) => (message: string, fields: Record<string, unknown>) =>
      entries.push({ level, message, namespace: fields.namespace });
    const logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const offline = createStream({
      brokers: '127.0.0.1:1',
      clientId: 'logged',
      logger,
      retry: { retries: 1, initialRetryTime: 100 },
      connectionTimeoutMs: 500,
    });
    await offline
      .producer()
      .send(topic('x', ResponseSchema), [response(0)])
      .catch(() => undefined);
    expect(
      entries.some((e) => e.level === 'error' && String(e.namespace).startsWith('kafkajs.')),
    ).toBe(true);
  });

  it('refuses a broker list entry that is not host:port', () => {
    expect(() => createStream({ brokers: 'localhost', clientId: 'x' })).toThrow(
      'Kafka broker "localhost" is not host:port',
    );
  });
});

// The value type a consumer hands over is the topic's message type.
const _typed: (r: ReceivedRecord<typeof ResponseSchema>) => Response = (r) => r.value;
