// Telemetry for tests: spans and metrics kept in memory so a test can read what was recorded.
// Not for services: nothing leaves the process.
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { startTelemetry, type Telemetry } from './start.js';

/** A reader that collects only when asked, so a test decides when metrics are read. */
class OnDemandMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Started telemetry whose spans and metrics stay in memory. */
export interface TestTelemetry extends Telemetry {
  /** Spans that have ended so far, oldest first. */
  spans(): ReadableSpan[];
  /** Forgets the spans recorded so far. */
  resetSpans(): void;
  /** Collects the current value of every metric. */
  collectMetrics(): Promise<ResourceMetrics>;
}

/**
 * Starts telemetry with in-memory exporters (and no OTLP or Prometheus export, whatever OTEL_*
 * says), so a test can assert which spans were made and how they link.
 */
export async function startTestTelemetry(serviceName = 'test'): Promise<TestTelemetry> {
  const spanExporter = new InMemorySpanExporter();
  const reader = new OnDemandMetricReader();
  const telemetry = await startTelemetry({
    serviceName,
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
    spanExporters: [spanExporter],
    metricReaders: [reader],
  });
  return {
    ...telemetry,
    spans: () => spanExporter.getFinishedSpans(),
    resetSpans: () => spanExporter.reset(),
    collectMetrics: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return resourceMetrics;
    },
  };
}
