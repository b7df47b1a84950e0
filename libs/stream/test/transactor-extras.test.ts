// The transactor's tools for stateful transforms, on a real broker: tombstones in outputs,
// transactions a clock triggers (transact), read positions past transaction markers, and
// records that keep their own trace context.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { PairSchema, ResponseSchema } from '@delta/contracts';
import { createStream, output, topic, type Stream, type StreamAdmin } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';

let stream: Stream;
let admin: StreamAdmin;

beforeAll(async () => {
  stream = createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId: 'stream-extras' });
  admin = stream.admin();
});
afterAll(async () => {
  await admin.disconnect();
});

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

/** Every record of a topic as key -> value length (null for a tombstone), read_committed. */
async function readRaw(name: string, count: number) {
  const seen: { key: string; value: Buffer | null; traceparent?: string }[] = [];
  const consumer = stream.kafka.consumer({ groupId: uniqueName('raw') });
  await consumer.connect();
  await consumer.subscribe({ topics: [name], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({ key: message.key!.toString(), value: message.value,
        traceparent: message.headers?.traceparent?.toString() });
    },
  });
  await waitFor(() => seen.length >= count);
  await consumer.disconnect();
  return seen;
}

describe('transactor extras', () => {
  it('writes tombstones, commits clock-driven transactions, and reports positions', async () => {
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    await admin.ensureTopics([{ topic: responses }, { topic: pairs }]);

    // Input written in a transaction ends with a commit marker: offsets 0-2 data, 3 the marker.
    const writer = stream.kafka.producer({
      transactionalId: uniqueName('writer'),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    });
    await writer.connect();
    const tx = await writer.transaction();
    await tx.send({
      topic: responses.name,
      messages: [0, 1, 2].map((i) => ({ key: `p-${i}`, value: Buffer.from([]) })),
    });
    await tx.commit();
    await writer.disconnect();
    // The end offset (last stable offset) moves once the broker has written the marker.
    let end = 0n;
    await waitFor(() => {
      void admin.endOffsets(responses).then((ends) => { end = ends.get(0) ?? 0n; });
      return end === 4n;
    });

    const positions: string[] = [];
    const transactor = stream.transactor({
      groupId: uniqueName('extras'),
      transactionalId: uniqueName('extras-tx'),
    });
    await expect(transactor.transact(() => [])).rejects.toMatchObject({ code: 'CONFIG' });
    await transactor.run({
      topics: [responses],
      fromBeginning: true,
      onPosition: ({ position }) => positions.push(position),
      transform: async (records) => [
        output(pairs, records.map((r) => ({ key: r.key, value: { pairId: r.key } }))),
      ],
    });
    // The position counts the marker, though the last record handed over is at offset 2.
    await waitFor(() => positions.includes('4'));

    let committedWith = -1;
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const written = await transactor.transact(
      () => [output(pairs, [{ key: 'p-0', value: null },
        { key: 'late', value: { pairId: 'x' }, headers: { traceparent: own } }])],
      (n) => { committedWith = n; },
    );
    expect(written).toBe(2);
    expect(committedWith).toBe(2);
    await transactor.disconnect();

    const seen = await readRaw(pairs.name, 5);
    expect(seen.map((r) => r.key)).toEqual(['p-0', 'p-1', 'p-2', 'p-0', 'late']);
    expect(seen[3]!.value).toBeNull();
    expect(seen[0]!.value!.length).toBeGreaterThan(0);
    // A record that carries its own trace context keeps it.
    expect(seen[4]!.traceparent).toBe(own);
  });
});
