// One trace from a client through a gRPC handler, a Kafka produce and a Kafka consume, read back
// from the in-memory span exporter; the run id travels along as baggage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, trace } from '@opentelemetry/api';
import { GeneratorService, JobState, ResponseSchema } from '@delta/contracts';
import { createClient, createServer, implement, type RpcServer } from '@delta/rpc';
import { createStream, topic, type Stream } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { currentRun, startTestTelemetry, withRun, type TestTelemetry } from '@delta/telemetry';

let telemetry: TestTelemetry;
let stream: Stream;
let server: RpcServer;
const responses = topic(uniqueName('delta.responses'), ResponseSchema);

beforeAll(async () => {
  telemetry = await startTestTelemetry('trace-test');
  stream = createStream({ brokers: process.env.DELTA_KAFKA_BROKERS!, clientId: 'trace-test' });
  const admin = stream.admin();
  await admin.ensureTopics([{ topic: responses }]);
  await admin.disconnect();
});
afterAll(async () => {
  await server?.shutdown();
  await telemetry.shutdown();
});

describe('trace context', () => {
  it('spans client -> gRPC handler -> Kafka produce -> consume with one trace id', async () => {
    // The handler writes a Response record, as the generator does.
    const producer = stream.producer();
    server = await createServer({
      services: [
        implement(GeneratorService, {
          async startGeneration(request) {
            const { runId } = currentRun();
            await producer.send(responses, [
              {
                key: 'p-1',
                value: { runId: runId ?? '', promptId: 'p-1', text: request.spec?.model ?? '' },
              },
            ]);
            return { jobId: 'job-1' };
          },
          async *watchGeneration() {
            yield { job: { meta: { state: JobState.SUCCEEDED } } };
          },
          async getGeneration() {
            return {};
          },
          async cancelGeneration() {
            return {};
          },
        }),
      ],
    });

    // The client starts the trace, with a run id in its context.
    const client = createClient(GeneratorService, server.address);
    let rootTraceId = '';
    await withRun({ runId: 'run-trace' }, () =>
      trace.getTracer('cli').startActiveSpan('delta run', async (root) => {
        rootTraceId = root.spanContext().traceId;
        await client.startGeneration({ spec: { model: 'tiny' } });
        root.end();
      }),
    );
    client.close();
    await producer.disconnect();

    // The consumer's handler runs inside the trace and sees the run id.
    const consumed: { traceId: string; runId?: string; value: string }[] = [];
    const consumer = stream.consumer({ groupId: uniqueName('pairer') });
    await consumer.run({
      topics: [responses],
      fromBeginning: true,
      eachMessage: async (record) => {
        consumed.push({
          traceId: trace.getActiveSpan()!.spanContext().traceId,
          runId: currentRun().runId,
          value: record.value.runId,
        });
      },
    });
    await expect.poll(() => consumed.length, { timeout: 30_000 }).toBe(1);
    await consumer.disconnect();

    const spans = telemetry.spans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const root = byName('delta run');
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const produce = byName(`send ${responses.name}`);
    const consume = byName(`process ${responses.name}`);

    expect(clientSpan.name).toBe('delta.v1.GeneratorService/StartGeneration');
    for (const span of [clientSpan, serverSpan, produce, consume]) {
      expect(span.spanContext().traceId).toBe(rootTraceId);
    }
    // Each hop is the child of the one before it.
    expect(clientSpan.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(produce.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(consume.parentSpanContext?.spanId).toBe(produce.spanContext().spanId);
    expect(consume.kind).toBe(SpanKind.CONSUMER);
    expect(produce.kind).toBe(SpanKind.PRODUCER);
    // The run id crossed both hops as baggage.
    expect(consumed[0]).toEqual({ traceId: rootTraceId, runId: 'run-trace', value: 'run-trace' });
  });
});
