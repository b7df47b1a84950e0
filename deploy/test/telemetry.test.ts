// Telemetry flows as deployed: each service's OTLP endpoint reaches the collector's OTLP/HTTP
// receiver, the collector sends traces to Jaeger and metrics to a Prometheus endpoint whose
// port the scrape annotations name and the network policy lets in. Drift in either is caught.
import { describe, expect, it } from 'vitest';
import { checkTelemetry, collectorConfig } from './support/check-telemetry.js';
import { OVERLAYS, edited, find, render, type K8sObject } from './support/render.js';
import { SERVICE_NAMES, serviceFacts } from './support/services.js';

const facts = SERVICE_NAMES.map((n) => serviceFacts()[n]);

describe.each(OVERLAYS)('%s', (dir) => {
  const objects = render(dir);

  it('sends every service\'s traces and metrics through the collector', () => {
    expect(checkTelemetry(objects, facts)).toEqual([]);
  });

  it('runs a traces and a metrics pipeline from OTLP', () => {
    const { config } = collectorConfig(objects);
    expect(config.service.pipelines.traces).toMatchObject(
      { receivers: ['otlp'], exporters: ['otlp_grpc/jaeger'] });
    expect(config.service.pipelines.metrics).toMatchObject(
      { receivers: ['otlp'], exporters: ['prometheus'] });
  });
});

describe('drift is caught', () => {
  const objects = render(OVERLAYS[0]);
  const changed = (edit: (objects: K8sObject[]) => void) => edited(objects, edit);

  it('an OTLP endpoint on the gRPC port, which the services\' HTTP exporters cannot use', () => {
    const o = changed((x) => {
      x.find((m) => m.metadata.name.startsWith('delta-common-env'))!.data!
        .OTEL_EXPORTER_OTLP_ENDPOINT = 'http://delta-otel-collector:4317';
    });
    const problems = checkTelemetry(o, facts);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe('StatefulSet/delta-generator: http://delta-otel-collector:4317 does ' +
      'not reach the collector\'s OTLP/HTTP receiver (port 4318); the services export OTLP over HTTP');
  });

  it('a scrape annotation on another port than the exporter\'s', () => {
    const o = changed((x) => {
      find(x, 'Deployment', 'delta-otel-collector').spec.template.metadata
        .annotations['prometheus.io/port'] = '9464';
    });
    expect(checkTelemetry(o, facts)).toEqual([
      'Deployment/delta-otel-collector: prometheus.io/port 9464 is no container port',
      'Deployment/delta-otel-collector: prometheus.io/port 9464, but the prometheus exporter ' +
        'listens on 8889',
      'Deployment/delta-otel-collector: its NetworkPolicy keeps scrapes of 9464 out',
    ]);
  });
});
