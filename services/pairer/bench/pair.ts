// Pairing throughput through a real broker (DELTA_KAFKA_BROKERS, or a throwaway one): responses
// of two models to N prompts, written out of order over four partitions, paired by a batch
// (until_end) ladder job of the pairer served in this process. Prints one JSON line per run:
// pairs/s and responses/s over the job's running time (restore, joining the consumer group,
// consume-transform-produce, final transaction; no import, no export), and pairs/s between the
// first and the last committed batch. Asserts nothing.
// Run: npm run bench:pair [-- prompts [fetch bytes]]
import { FinishReason, JobState, PairSchema, PairerService, ResponseSchema } from '@delta/contracts';
import { createClient } from '@delta/rpc';
import { startJobService } from '@delta/service';
import { createStream, topic } from '@delta/stream';
import { startTestKafka, uniqueName } from '@delta/stream/testing';
import { pairerDefinition, readPairerConfig } from '../src/index.js';

const prompts = Number(process.argv[2] ?? 20_000);
const fetchBytes = Number(process.argv[3] ?? 1024 * 1024);

const kafka = await startTestKafka();
const env = {
  DELTA_KAFKA_BROKERS: kafka.brokers,
  DELTA_GRPC_PORT: '0',
  DELTA_GRPC_HOST: '127.0.0.1',
  DELTA_JOBS_TOPIC: uniqueName('bench.jobs'),
  DELTA_INSTANCE_ID: uniqueName('bench-pairer'),
  DELTA_LOG_LEVEL: 'warn',
  OTEL_SDK_DISABLED: 'true',
  DELTA_PAIRER_STATE_TOPIC_PREFIX: uniqueName('bench.state'),
  DELTA_PAIRER_GROUP_PREFIX: uniqueName('bench.pairer'),
  DELTA_PAIRER_FETCH_MAX_BYTES: String(fetchBytes),
};
const stream = createStream({ brokers: kafka.brokers, clientId: 'bench-pair' });
const admin = stream.admin();
const responses = topic(uniqueName('bench.responses'), ResponseSchema);
const pairs = topic(uniqueName('bench.pairs'), PairSchema);
await admin.ensureTopics([{ topic: responses, partitions: 4 }, { topic: pairs, partitions: 4 }]);

// The smaller model answers first for half of the prompts, so joins wait across batches.
const text = 'Step one. Step two. The answer is 42. '.repeat(5);
const producer = stream.producer();
const batch = 1000;
for (let i = 0; i < prompts; i += batch / 2) {
  const records = [];
  for (let j = i; j < Math.min(prompts, i + batch / 2); j++) {
    const models = j % 2 === 0 ? ['small-1b', 'big-7b'] : ['big-7b', 'small-1b'];
    for (const model of models) {
      records.push({ key: `p-${j}`, value: {
        runId: 'bench', promptId: `p-${j}`, model, text: `${model}: ${text}`,
        finishReason: FinishReason.STOP, completionTokens: 48,
        prompt: [{ role: 'user', content: `Question ${j}: what is six times seven?` }],
      } });
    }
  }
  await producer.send(responses, records);
}
await producer.disconnect();

const service = await startJobService(pairerDefinition(readPairerConfig(env)), { env });
const client = createClient(PairerService, service.server.address);
const { jobId } = await client.startPairing({ runId: 'bench', spec: {
  models: ['big-7b', 'small-1b'],
  policy: { case: 'ladder', value: { order: ['big-7b', 'small-1b'] } },
  responsesTopic: responses.name, pairsTopic: pairs.name, untilEnd: true,
} });
// Steady state: from the first committed batch to the last, without joining the group, the
// final transaction and leaving the group.
let started = 0;
let first: { at: number; pairs: number } | undefined;
let last: { at: number; pairs: number } | undefined;
let job;
for await ({ job } of client.watchPairing({ jobId })) {
  const now = performance.now();
  if (!started && job?.meta?.state === JobState.RUNNING) started = now;
  const pairsNow = Number(job?.status?.pairsWritten ?? 0n);
  if (job?.meta?.progress?.stage === 'pairing' && pairsNow > 0) {
    first ??= { at: now, pairs: pairsNow };
    last = { at: now, pairs: pairsNow };
  }
}
const seconds = (performance.now() - started) / 1000;
const steady = first && last && last.at > first.at
  ? Math.round((last.pairs - first.pairs) / ((last.at - first.at) / 1000)) : null;
if (job?.meta?.state !== JobState.SUCCEEDED) {
  const state = JobState[job?.meta?.state ?? 0];
  throw new Error(`the bench job ended ${state}: ${job?.meta?.error?.message}`);
}
const written = Number(job.status!.pairsWritten);
console.log(JSON.stringify({
  bench: 'pair',
  prompts,
  responses: Number(job.status!.responsesRead),
  pairs: written,
  partitions: 4,
  fetch_max_bytes: fetchBytes,
  seconds: Number(seconds.toFixed(2)),
  pairs_per_second: Math.round(written / seconds),
  steady_pairs_per_second: steady,
  responses_per_second: Math.round(Number(job.status!.responsesRead) / seconds),
}));

await service.stop('bench done');
await admin.deleteTopics([responses, pairs]);
await admin.disconnect();
await kafka.stop();
