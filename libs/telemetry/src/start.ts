// One call that starts traces and metrics for a service: the SDK providers, W3C trace-context and
// baggage propagation, and exporters chosen by the standard OTEL_* environment variables.
// Modules are not auto-instrumented: under ESM the official gRPC and kafkajs instrumentations
// work only when a loader hook is registered (node --import) before any import, which vitest
// workers and embedding programs do not guarantee; @delta/rpc and @delta/stream create their
// spans and inject/extract W3C context themselves instead.
import {
  context,
  diag,
  metrics,
  propagation,
  trace,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { TelemetryError } from './errors.js';

/** What startTelemetry needs; everything else comes from OTEL_* variables. */
export interface TelemetryOptions {
  /** service.name, unless OTEL_SERVICE_NAME overrides it. */
  serviceName: string;
  serviceVersion?: string;
  /** Variables to read; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Extra span exporters, each behind a SimpleSpanProcessor (spans exported as they end). */
  spanExporters?: SpanExporter[];
  /** Extra metric readers (a test reader, for example). */
  metricReaders?: MetricReader[];
}

/** A started telemetry pipeline. shutdown() flushes exporters and unregisters the globals. */
export interface Telemetry {
  readonly serviceName: string;
  /** Trace exporters in use, as named in OTEL_TRACES_EXPORTER ("otlp", "console"). */
  readonly traceExporters: readonly string[];
  /** Metric exporters in use ("otlp", "prometheus", "console"). */
  readonly metricExporters: readonly string[];
  /** The Prometheus scrape URL when the prometheus exporter is on. */
  readonly prometheusUrl?: string;
  tracer(name?: string): Tracer;
  meter(name?: string): Meter;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const TRACE_EXPORTERS = ['otlp', 'console', 'none'] as const;
const METRIC_EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;

let active: Telemetry | undefined;

function exporterList(
  env: Record<string, string | undefined>,
  name: string,
  allowed: readonly string[],
  fallback: string[],
): string[] {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !allowed.includes(s));
  if (bad.length > 0) {
    const names = bad.map((b) => `"${b}"`).join(', ');
    throw new TelemetryError(
      'CONFIG',
      `${name}: unknown exporter ${names}; expected a comma list of ${allowed.join(', ')}`,
    );
  }
  return list.filter((s) => s !== 'none');
}

/** The OTLP/HTTP URL of one signal from `env`, as the OTLP exporters would derive it. */
function otlpUrl(env: Record<string, string | undefined>, signal: string, path: string) {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`];
  if (specific) return specific;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/${path}` : undefined;
}

function otlpConfigured(env: Record<string, string | undefined>, signal: string): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]);
}

function prometheusAddress(env: Record<string, string | undefined>): {
  host: string;
  port: number;
} {
  const host = env.OTEL_EXPORTER_PROMETHEUS_HOST || 'localhost';
  const rawPort = env.OTEL_EXPORTER_PROMETHEUS_PORT || '9464';
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TelemetryError(
      'CONFIG',
      `OTEL_EXPORTER_PROMETHEUS_PORT: "${rawPort}" is not a port number (0-65535)`,
    );
  }
  return { host, port };
}

/**
 * Starts traces and metrics for this process and registers them as the OpenTelemetry globals.
 * Exporters follow the standard variables: OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER
 * ("otlp", "console", "prometheus" for metrics, "none"); the OTLP/HTTP exporters read
 * OTEL_EXPORTER_OTLP_* themselves. When OTEL_*_EXPORTER is unset, OTLP is on only if an OTLP
 * endpoint is set, so a laptop without a collector gets no export errors. OTEL_SDK_DISABLED=true
 * registers nothing but still returns a working (no-op) handle.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  if (active) {
    throw new TelemetryError(
      'ALREADY_STARTED',
      `telemetry is already started for "${active.serviceName}"; call shutdown() first`,
    );
  }
  const env = options.env ?? process.env;
  const traceExporters = exporterList(
    env,
    'OTEL_TRACES_EXPORTER',
    TRACE_EXPORTERS,
    otlpConfigured(env, 'TRACES') ? ['otlp'] : [],
  );
  const metricExporters = exporterList(
    env,
    'OTEL_METRICS_EXPORTER',
    METRIC_EXPORTERS,
    otlpConfigured(env, 'METRICS') ? ['otlp'] : [],
  );
  const serviceName = env.OTEL_SERVICE_NAME || options.serviceName;
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';

  if (disabled) {
    const noop: Telemetry = {
      serviceName,
      traceExporters: [],
      metricExporters: [],
      tracer: (name = serviceName) => trace.getTracer(name),
      meter: (name = serviceName) => metrics.getMeter(name),
      forceFlush: async () => {},
      shutdown: async () => {
        active = undefined;
      },
    };
    active = noop;
    return noop;
  }

  // Resource: the service's name and version, then OTEL_RESOURCE_ATTRIBUTES on top.
  const fromEnv = detectResources({ detectors: [envDetector] });
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: serviceName,
    ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
  })
    .merge(fromEnv)
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));

  const spanProcessors: SpanProcessor[] = [];
  if (traceExporters.includes('otlp')) {
    const url = otlpUrl(env, 'TRACES', 'v1/traces');
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter(url ? { url } : {})));
  }
  if (traceExporters.includes('console')) {
    spanProcessors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  }
  for (const exporter of options.spanExporters ?? []) {
    spanProcessors.push(new SimpleSpanProcessor(exporter));
  }

  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (metricExporters.includes('otlp')) {
    const url = otlpUrl(env, 'METRICS', 'v1/metrics');
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter(url ? { url } : {}),
      }),
    );
  }
  if (metricExporters.includes('console')) {
    readers.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter() }));
  }
  let prometheusUrl: string | undefined;
  if (metricExporters.includes('prometheus')) {
    const { host, port } = prometheusAddress(env);
    const exporter = new PrometheusExporter({ host, port, preventServerStart: true });
    try {
      await exporter.startServer();
    } catch (err) {
      throw new TelemetryError(
        'CONFIG',
        `the Prometheus endpoint could not listen on ${host}:${port}`,
        err,
      );
    }
    prometheusUrl = `http://${host}:${port}/metrics`;
    readers.push(exporter);
  }

  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
  tracerProvider.register({
    propagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  });
  const meterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);

  const handle: Telemetry = {
    serviceName,
    traceExporters,
    metricExporters,
    ...(prometheusUrl ? { prometheusUrl } : {}),
    tracer: (name = serviceName) => trace.getTracer(name),
    meter: (name = serviceName) => metrics.getMeter(name),
    forceFlush: async () => {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown: async () => {
      if (active !== handle) return;
      active = undefined;
      const results = await Promise.allSettled([
        tracerProvider.shutdown(),
        meterProvider.shutdown(),
      ]);
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
      diag.disable();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        throw new TelemetryError('SHUTDOWN', 'telemetry exporters failed to flush', failed.reason);
      }
    },
  };
  active = handle;
  return handle;
}
