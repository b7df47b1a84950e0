// Produce, consume and exactly-once transform rates of typed Response records on a real broker
// (DELTA_KAFKA_BROKERS, or a throwaway one). Prints figures; asserts nothing.
// Run: npm run bench -w libs/stream [-- records]
import { FinishReason, PairSchema, ResponseSchema } from '@delta/contracts';
import { createStream, output, topic } from '@delta/stream';
import { startTestKafka, uniqueName } from '@delta/stream/testing';

const total = Number(process.argv[2] ?? 20_000);
const batch = 500;

function rate(count: number, ms: number): string {
  const perSecond = Math.round((count / ms) * 1000);
  return `${count} records in ${(ms / 1000).toFixed(2)} s = ${perSecond} records/s`;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}

const kafka = await startTestKafka();
const stream = createStream({ brokers: kafka.brokers, clientId: 'bench' });
const admin = stream.admin();
const responses = topic(uniqueName('bench.responses'), ResponseSchema);
const pairs = topic(uniqueName('bench.pairs'), PairSchema);
await admin.ensureTopics([
  { topic: responses, partitions: 4 },
  { topic: pairs, partitions: 4 },
]);

const text = 'The answer is 42. '.repeat(8);
const producer = stream.producer();
await producer.connect();
let started = performance.now();
for (let i = 0; i < total; i += batch) {
  await producer.send(
    responses,
    Array.from({ length: Math.min(batch, total - i) }, (_, j) => ({
      key: `p-${i + j}`,
      value: {
        runId: 'bench',
        promptId: `p-${i + j}`,
        model: 'rung-1',
        text,
        finishReason: FinishReason.STOP,
        completionTokens: 40,
      },
    })),
  );
}
console.log(
  `produce (idempotent, acks=all, ${batch} per send): ${rate(total, performance.now() - started)}`,
);
await producer.disconnect();

let consumed = 0;
const consumer = stream.consumer({ groupId: uniqueName('bench') });
started = performance.now();
await consumer.run({
  topics: [responses],
  fromBeginning: true,
  eachBatch: async (records) => {
    consumed += records.length;
  },
});
await until(() => consumed >= total);
console.log(`consume (eachBatch, commit per batch): ${rate(total, performance.now() - started)}`);
await consumer.disconnect();

let perMessage = 0;
const limit = Math.min(total, 2_000);
const single = stream.consumer({ groupId: uniqueName('bench') });
started = performance.now();
await single.run({
  topics: [responses],
  fromBeginning: true,
  eachMessage: async () => {
    perMessage += 1;
  },
});
await until(() => perMessage >= limit);
console.log(
  `consume (eachMessage, commit per record): ${rate(perMessage, performance.now() - started)}`,
);
await single.disconnect();

let transformed = 0;
const transactor = stream.transactor({
  groupId: uniqueName('bench'),
  transactionalId: uniqueName('tx'),
});
started = performance.now();
await transactor.run({
  topics: [responses],
  fromBeginning: true,
  transform: async (records) => {
    transformed += records.length;
    return [
      output(
        pairs,
        records.map((r) => ({ key: r.key, value: { pairId: r.key } })),
      ),
    ];
  },
});
await until(() => transformed >= total);
const transformMs = performance.now() - started;
console.log(`transform (read_committed, a transaction per batch): ${rate(total, transformMs)}`);
await transactor.disconnect();

await admin.deleteTopics([responses, pairs]);
await admin.disconnect();
await kafka.stop();
