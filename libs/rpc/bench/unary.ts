// Unary call latency and throughput over loopback through createServer/createClient.
// Prints figures; asserts nothing. Run: npm run bench -w libs/rpc [-- calls]
import { GeneratorService, JobState } from '@delta/contracts';
import { createClient, createServer, implement } from '@delta/rpc';

const calls = Number(process.argv[2] ?? 5_000);
const perSecond = (count: number, since: number) =>
  Math.round((count / (performance.now() - since)) * 1000);

const server = await createServer({
  services: [
    implement(GeneratorService, {
      async startGeneration() {
        return {};
      },
      async *watchGeneration(request) {
        for (let i = 0; i < 1_000; i++)
          yield { job: { meta: { jobId: request.jobId, state: JobState.RUNNING } } };
      },
      async getGeneration(request) {
        return { job: { meta: { jobId: request.jobId, state: JobState.RUNNING } } };
      },
      async cancelGeneration() {
        return {};
      },
    }),
  ],
});
const client = createClient(GeneratorService, server.address);
await client.waitForReady();
for (let i = 0; i < 200; i++) await client.getGeneration({ jobId: 'warm' });

const latencies: number[] = [];
let started = performance.now();
for (let i = 0; i < calls; i++) {
  const t = performance.now();
  await client.getGeneration({ jobId: `job-${i}` });
  latencies.push(performance.now() - t);
}
const serialMs = performance.now() - started;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.floor((latencies.length - 1) * p)]!.toFixed(3);
console.log(
  `unary, one at a time: ${calls} calls, ${Math.round((calls / serialMs) * 1000)} calls/s, ` +
    `p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`,
);

started = performance.now();
const concurrency = 32;
await Promise.all(
  Array.from({ length: concurrency }, async (_, w) => {
    for (let i = w; i < calls; i += concurrency) await client.getGeneration({ jobId: `job-${i}` });
  }),
);
console.log(`unary, ${concurrency} in flight: ${perSecond(calls, started)} calls/s`);

started = performance.now();
let received = 0;
for await (const _ of client.watchGeneration({ jobId: 'stream' })) received += 1;
console.log(`server stream: ${received} messages, ${perSecond(received, started)} messages/s`);

client.close();
await server.shutdown();
