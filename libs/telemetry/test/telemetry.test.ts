// startTelemetry, the in-memory test exporters, the Prometheus endpoint and the JSON logger.
import { Writable } from 'node:stream';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, trace } from '@opentelemetry/api';
import {
  GEN_AI_REQUEST_MODEL,
  TelemetryError,
  createLogger,
  currentRun,
  startTelemetry,
  startTestTelemetry,
  withRun,
  type Telemetry,
} from '@delta/telemetry';

let running: Telemetry | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function lines(): { stream: Writable; read: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    read: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
  };
}

describe('startTelemetry', () => {
  it('records spans with parent links in the in-memory exporter', async () => {
    const telemetry = await startTestTelemetry('unit');
    running = telemetry;
    const tracer = telemetry.tracer();
    tracer.startActiveSpan('outer', (outer) => {
      tracer
        .startSpan('inner', {
          kind: SpanKind.INTERNAL,
          attributes: { [GEN_AI_REQUEST_MODEL]: 'tiny' },
        })
        .end();
      outer.end();
    });
    const [inner, outer] = telemetry.spans();
    expect(inner!.name).toBe('inner');
    expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    expect(inner!.spanContext().traceId).toBe(outer!.spanContext().traceId);
    expect(inner!.attributes['gen_ai.request.model']).toBe('tiny');
    expect(outer!.resource.attributes['service.name']).toBe('unit');
  });

  it('collects metrics on demand', async () => {
    const telemetry = await startTestTelemetry('unit');
    running = telemetry;
    telemetry.meter().createCounter('delta.pairs.written').add(3, { policy: 'ladder' });
    const collected = await telemetry.collectMetrics();
    const metric = collected.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'delta.pairs.written');
    expect(metric?.dataPoints[0]?.value).toBe(3);
    expect(metric?.dataPoints[0]?.attributes).toEqual({ policy: 'ladder' });
  });

  it('serves a Prometheus scrape endpoint when OTEL_METRICS_EXPORTER=prometheus', async () => {
    const port = await freePort();
    running = await startTelemetry({
      serviceName: 'scrape',
      env: {
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      },
    });
    running.meter().createCounter('delta_responses_written').add(5);
    expect(running.prometheusUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    const body = await (await fetch(running.prometheusUrl!)).text();
    expect(body).toMatch(/^delta_responses_written_total\{[^}]*\} 5$/m);
  });

  it('uses no exporter by default, and OTLP once an endpoint is set', async () => {
    running = await startTelemetry({ serviceName: 'quiet', env: {} });
    expect(running.traceExporters).toEqual([]);
    await running.shutdown();
    running = await startTelemetry({
      serviceName: 'otlp',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SERVICE_NAME: 'renamed' },
    });
    expect(running.traceExporters).toEqual(['otlp']);
    expect(running.metricExporters).toEqual(['otlp']);
    expect(running.serviceName).toBe('renamed');
  });

  it('exports spans over OTLP/HTTP to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const received: { url: string; type: string; bytes: number }[] = [];
    const collector = createHttpServer((req: IncomingMessage, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on('end', () => {
        received.push({ url: req.url ?? '', type: String(req.headers['content-type']), bytes });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as { port: number };
    running = await startTelemetry({
      serviceName: 'otlp-export',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_METRICS_EXPORTER: 'none',
      },
    });
    running.tracer().startSpan('generate batch').end();
    await running.forceFlush();
    collector.close();
    expect(received).toHaveLength(1);
    expect(received[0]!.url).toBe('/v1/traces');
    expect(received[0]!.bytes).toBeGreaterThan(0);
  });

  it('names the variable at fault for an unknown exporter', async () => {
    const error = await startTelemetry({
      serviceName: 'x',
      env: { OTEL_TRACES_EXPORTER: 'zipkin' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TelemetryError);
    expect((error as TelemetryError).code).toBe('CONFIG');
    expect((error as Error).message).toContain('OTEL_TRACES_EXPORTER: unknown exporter "zipkin"');
  });

  it('refuses a second start until the first is shut down', async () => {
    running = await startTestTelemetry();
    await expect(startTestTelemetry()).rejects.toMatchObject({ code: 'ALREADY_STARTED' });
  });
});

describe('createLogger', () => {
  it('writes JSON lines carrying trace, span, run and job ids', async () => {
    running = await startTestTelemetry('logs');
    const out = lines();
    const log = createLogger({ name: 'generator', destination: out.stream });
    let traceId = '';
    withRun({ runId: 'run-42', jobId: 'job-7' }, () => {
      expect(currentRun()).toEqual({ runId: 'run-42', jobId: 'job-7' });
      trace.getTracer('t').startActiveSpan('step', (span) => {
        traceId = span.spanContext().traceId;
        log.info({ prompts: 3 }, 'batch done');
        span.end();
      });
    });
    log.warn('outside');
    const [inside, outside] = out.read();
    expect(inside).toMatchObject({
      level: 'info',
      name: 'generator',
      msg: 'batch done',
      prompts: 3,
      trace_id: traceId,
      run_id: 'run-42',
      job_id: 'job-7',
    });
    expect(inside!.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(outside).toMatchObject({ level: 'warn', msg: 'outside' });
    expect(outside).not.toHaveProperty('trace_id');
    expect(outside).not.toHaveProperty('run_id');
  });
});
