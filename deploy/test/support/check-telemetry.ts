// Checks that telemetry flows as configured: every service's OTLP endpoint reaches the
// collector's OTLP/HTTP receiver, the collector's pipelines take traces and metrics in and send
// them to defined exporters, traces reach Jaeger, and the Prometheus annotations name the port
// the collector's metrics exporter listens on, which its network policy lets in.
import { parse } from 'yaml';
import { envValues, hostPort, serviceWorkload } from './check-services.js';
import { find, label, ofKind, selects, workloads, type K8sObject } from './render.js';
import type { ServiceFacts } from './services.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** The collector's parsed configuration, from the ConfigMap its Deployment mounts. */
export function collectorConfig(objects: readonly K8sObject[]): { config: Any; where: string } {
  const collector = find(objects, 'Deployment', 'delta-otel-collector');
  const spec = collector.spec.template.spec;
  const container = spec.containers[0];
  const arg = container.args.find((a: string) => a.startsWith('--config='));
  const file = arg?.slice('--config='.length) ?? '';
  const mount = container.volumeMounts.find((m: Any) => file.startsWith(`${m.mountPath}/`));
  const volume = spec.volumes.find((v: Any) => v.name === mount?.name);
  const map = find(objects, 'ConfigMap', volume?.configMap?.name ?? '(none)');
  const key = file.slice(mount.mountPath.length + 1);
  if (!map.data?.[key]) throw new Error(`${label(map)} has no ${key} for --config=${file}`);
  return { config: parse(map.data[key]), where: `${label(map)} ${key}` };
}

/** A Service port (by number) resolved to the container port of the pods it selects. */
function servicePortTarget(objects: readonly K8sObject[], host: string, port: number) {
  const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === host);
  const p = service?.spec.ports.find((x: Any) => x.port === port);
  if (!service || !p) return undefined;
  const workload = workloads(objects)
    .find((w) => selects({ matchLabels: service.spec.selector }, w.spec.template.metadata.labels));
  const containers = workload?.spec.template.spec.containers ?? [];
  const target = p.targetPort ?? p.port;
  for (const c of containers) {
    const cp = c.ports?.find((x: Any) => x.name === target || x.containerPort === target);
    if (cp) return { workload: workload!, containerPort: cp.containerPort as number };
  }
  return undefined;
}

/** The collector pipelines and where every service and exporter points. */
export function checkTelemetry(
  objects: readonly K8sObject[], services: readonly ServiceFacts[],
): string[] {
  const problems: string[] = [];
  const { config, where } = collectorConfig(objects);
  const http = config.receivers?.otlp?.protocols?.http?.endpoint ?? '';
  const httpPort = hostPort(`tcp://${http}`).port;
  if (!http.startsWith('0.0.0.0:')) {
    problems.push(`${where}: the OTLP/HTTP receiver must listen on 0.0.0.0, not "${http}"`);
  }

  for (const signal of ['traces', 'metrics']) {
    const pipeline = config.service?.pipelines?.[signal];
    if (!pipeline?.receivers?.includes('otlp') || !pipeline.exporters?.length) {
      problems.push(`${where}: no ${signal} pipeline from the otlp receiver to an exporter`);
      continue;
    }
    for (const kind of ['receivers', 'processors', 'exporters']) {
      for (const id of pipeline[kind] ?? []) {
        if (!(id in (config[kind] ?? {}))) problems.push(`${where}: ${signal} uses undefined ${id}`);
      }
    }
  }
  for (const id of config.service?.extensions ?? []) {
    if (!(id in (config.extensions ?? {}))) problems.push(`${where}: undefined extension ${id}`);
  }

  for (const facts of services) {
    const { workload, container } = serviceWorkload(objects, facts);
    const endpoint = envValues(objects, workload, container).OTEL_EXPORTER_OTLP_ENDPOINT;
    if (!endpoint) {
      problems.push(`${label(workload)}: no OTEL_EXPORTER_OTLP_ENDPOINT; its telemetry goes nowhere`);
      continue;
    }
    const { host, port } = hostPort(endpoint);
    const target = servicePortTarget(objects, host, port);
    if (target?.workload.metadata.name !== 'delta-otel-collector' ||
        target.containerPort !== httpPort) {
      problems.push(`${label(workload)}: ${endpoint} does not reach the collector's OTLP/HTTP ` +
        `receiver (port ${httpPort}); the services export OTLP over HTTP`);
    }
  }

  const traces = config.service?.pipelines?.traces?.exporters ?? [];
  const jaeger = traces.map((id: string) => config.exporters?.[id]?.endpoint).find(Boolean);
  if (jaeger) {
    const { host, port } = hostPort(`tcp://${jaeger}`);
    if (servicePortTarget(objects, host, port)?.workload.metadata.name !== 'delta-jaeger') {
      problems.push(`${where}: traces go to ${jaeger}, which is not Jaeger's OTLP port`);
    }
  }

  // Prometheus: the annotated port is the exporter's, exposed and let in by the policy.
  const metrics = config.service?.pipelines?.metrics?.exporters ?? [];
  const prometheus = metrics.find((id: string) => id.split('/')[0] === 'prometheus');
  for (const workload of workloads(objects)) {
    const notes = workload.spec.template.metadata.annotations ?? {};
    if (notes['prometheus.io/scrape'] !== 'true') continue;
    const port = Number(notes['prometheus.io/port']);
    const ports = workload.spec.template.spec.containers.flatMap((c: Any) => c.ports ?? []);
    if (!ports.some((p: Any) => p.containerPort === port)) {
      problems.push(`${label(workload)}: prometheus.io/port ${port} is no container port`);
    }
    if (workload.metadata.name === 'delta-otel-collector') {
      const exporterPort = hostPort(`tcp://${config.exporters?.[prometheus]?.endpoint}`).port;
      if (exporterPort !== port) {
        problems.push(`${label(workload)}: prometheus.io/port ${port}, but the prometheus ` +
          `exporter listens on ${exporterPort}`);
      }
    }
    const policy = ofKind(objects, 'NetworkPolicy')
      .find((p) => selects(p.spec.podSelector, workload.spec.template.metadata.labels));
    const open = (policy?.spec.ingress ?? [])
      .some((r: Any) => r.ports.some((p: Any) => p.port === port));
    if (!open) problems.push(`${label(workload)}: its NetworkPolicy keeps scrapes of ${port} out`);
  }
  if (!prometheus) problems.push(`${where}: metrics have no prometheus exporter to scrape`);
  return problems;
}
