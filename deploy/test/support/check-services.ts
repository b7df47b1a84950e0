// Checks that the rendered manifests of each service agree with what the service declares:
// variables, port, probes, Services, image, identity, resources, security, volumes, disruption
// budget and network policy. Each check returns problems as lines; none means no drift.
import { readEnv } from '@delta/rpc';
import {
  containerEnv, find, label, ofKind, selects, workloads, type K8sObject,
} from './render.js';
import { isRequired, type ServiceFacts } from './services.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** CPU quantity ("500m", "2", 4) in cores. */
export function cores(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

/** "host:port" or "scheme://host:port/..." split; the port is required. */
export function hostPort(address: string): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
}

/** Resolves a Service or NetworkPolicy port (a number or a container port name). */
function portNumber(port: number | string | undefined, container: Any): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  return container.ports?.find((p: Any) => p.name === port)?.containerPort;
}

/** The service's workload, its pod template and its one container. */
export function serviceWorkload(objects: readonly K8sObject[], facts: ServiceFacts) {
  const workload = find(objects, 'StatefulSet', `delta-${facts.name}`);
  const pod = workload.spec.template;
  const container = pod.spec.containers.find((c: Any) => c.name === facts.name);
  if (!container) throw new Error(`${label(workload)}: no container named ${facts.name}`);
  return { workload, pod, container };
}

/** The values a container's variables take, field references filled as Kubernetes would. */
export function envValues(objects: readonly K8sObject[], workload: K8sObject, container: Any) {
  const values: Record<string, string> = {};
  for (const [name, v] of containerEnv(objects, container)) {
    let value = v.value ?? (v.fieldPath === 'metadata.name' ? `${workload.metadata.name}-0` : '');
    value = value.replace(/\$\(([A-Z0-9_]+)\)/g, (_, ref: string) => values[ref] ?? `$(${ref})`);
    values[name] = value;
  }
  return values;
}

/** Variables: declared names only, every required one set, every value valid for the service. */
export function checkEnv(objects: readonly K8sObject[], facts: ServiceFacts): string[] {
  const { workload, container } = serviceWorkload(objects, facts);
  const where = `${label(workload)} ${facts.name}`;
  const problems: string[] = [];
  const env = containerEnv(objects, container);
  for (const name of env.keys()) {
    if (!(name in facts.spec) && !facts.extra.includes(name)) {
      problems.push(`${where}: sets ${name}, which the ${facts.name} does not declare`);
    }
  }
  for (const [name, variable] of Object.entries(facts.spec)) {
    if (isRequired(variable) && !env.has(name)) problems.push(`${where}: ${name} is required`);
  }
  try {
    readEnv(facts.spec, envValues(objects, workload, container));
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message.replace(/\s+/g, ' ')}`);
  }
  const id = env.get('DELTA_INSTANCE_ID');
  if (id?.fieldPath !== 'metadata.name' || workload.kind !== 'StatefulSet') {
    problems.push(`${where}: DELTA_INSTANCE_ID must be the pod name of a StatefulSet pod, ` +
      'so a restarted pod resumes the jobs it owns');
  }
  return problems;
}

/** Port, probes and Services: one port number everywhere, probes on the health service. */
export function checkPorts(objects: readonly K8sObject[], facts: ServiceFacts): string[] {
  const { workload, pod, container } = serviceWorkload(objects, facts);
  const where = `${label(workload)} ${facts.name}`;
  const problems: string[] = [];
  const values = envValues(objects, workload, container);
  const port = Number(values.DELTA_GRPC_PORT ?? facts.defaultPort);
  if (port !== facts.defaultPort) {
    problems.push(`${where}: DELTA_GRPC_PORT ${port} is not the ${facts.name}'s port ` +
      `${facts.defaultPort} (the image's EXPOSE and clients' defaults)`);
  }
  if (values.DELTA_GRPC_HOST !== '0.0.0.0') {
    problems.push(`${where}: DELTA_GRPC_HOST must be 0.0.0.0 for probes and Services to reach it`);
  }
  const grpc = container.ports?.find((p: Any) => p.name === 'grpc');
  if (grpc?.containerPort !== port) {
    problems.push(`${where}: container port "grpc" is ${grpc?.containerPort}, the service ` +
      `listens on ${port}`);
  }

  for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const probe = container[kind];
    if (!probe?.grpc) {
      problems.push(`${where}: ${kind} must be a gRPC probe`);
      continue;
    }
    if (probe.grpc.port !== port) {
      problems.push(`${where}: ${kind} asks port ${probe.grpc.port}, the service listens on ${port}`);
    }
    const service = probe.grpc.service ?? '';
    if (service !== '' && service !== facts.healthService) {
      problems.push(`${where}: ${kind} asks about "${service}", which the health service does ` +
        `not report (it knows "" and "${facts.healthService}")`);
    }
  }
  if ((container.readinessProbe?.grpc?.service ?? '') !== facts.healthService) {
    problems.push(`${where}: readinessProbe should ask about ${facts.healthService}`);
  }

  const services = ofKind(objects, 'Service').filter((s) => selects(
    { matchLabels: s.spec.selector }, pod.metadata.labels));
  if (services.length === 0) problems.push(`${where}: no Service selects its pods`);
  for (const service of services) {
    for (const p of service.spec.ports) {
      const target = portNumber(p.targetPort ?? p.port, container);
      if (target !== port || p.port !== port) {
        problems.push(`${label(service)}: port ${p.port} -> ${p.targetPort} does not reach ` +
          `the ${facts.name} on ${port} at the same port`);
      }
    }
  }
  const headless = services.find((s) => s.spec.clusterIP === 'None');
  if (workload.spec.serviceName !== headless?.metadata.name) {
    problems.push(`${where}: serviceName must be the headless Service that names each pod`);
  }
  return problems;
}

/** Image, resources and threads: the image of the service's version, threads within limits. */
export function checkResources(objects: readonly K8sObject[], facts: ServiceFacts): string[] {
  const { workload, container } = serviceWorkload(objects, facts);
  const where = `${label(workload)} ${facts.name}`;
  const problems: string[] = [];
  const [repo, tag] = String(container.image).split(':');
  if (!repo?.startsWith(`delta/${facts.name}`) || tag !== facts.version) {
    problems.push(`${where}: image ${container.image} is not delta/${facts.name}[-variant]:` +
      `${facts.version} (the service's version)`);
  }
  const { requests, limits } = container.resources ?? {};
  for (const [what, set] of [['requests', requests], ['limits', limits]] as const) {
    if (!set?.cpu || !set?.memory) problems.push(`${where}: needs cpu and memory ${what}`);
  }
  const values = envValues(objects, workload, container);
  for (const [name, value] of Object.entries(values)) {
    if (!name.endsWith('_THREADS')) continue;
    const threads = Number(value);
    if (!(threads >= 1) || (limits?.cpu && threads > Math.floor(cores(limits.cpu)))) {
      problems.push(`${where}: ${name}=${value} must be between 1 and the CPU limit ` +
        `(${limits?.cpu}); 0 would start a thread per core of the node`);
    }
  }
  return problems;
}

/** Roots: every root folder lies on a mounted volume, outputs on a writable one. */
export function checkVolumes(objects: readonly K8sObject[], facts: ServiceFacts): string[] {
  const { workload, container } = serviceWorkload(objects, facts);
  const where = `${label(workload)} ${facts.name}`;
  const problems: string[] = [];
  const values = envValues(objects, workload, container);
  const mounts: Any[] = container.volumeMounts ?? [];
  const mountOf = (dir: string) => mounts.find((m) =>
    dir === m.mountPath || dir.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  for (const name of ['DELTA_MODEL_ROOTS', 'DELTA_DATA_ROOTS', 'DELTA_OUTPUT_ROOTS']) {
    for (const dir of (values[name] ?? '').split(':').filter(Boolean)) {
      const mount = mountOf(dir);
      if (!mount) problems.push(`${where}: ${name} folder ${dir} is on no mounted volume`);
      else if (name === 'DELTA_OUTPUT_ROOTS' && facts.writesOutputs && mount.readOnly) {
        problems.push(`${where}: ${dir} is mounted read-only, but the ${facts.name} writes there`);
      }
    }
  }
  const volumes = new Set((workload.spec.template.spec.volumes ?? []).map((v: Any) => v.name));
  for (const m of mounts) {
    if (!volumes.has(m.name)) problems.push(`${where}: mounts ${m.name}, which is no volume`);
  }
  return problems;
}

/** Security of every workload: non-root, no privilege escalation, no API token, no RBAC. */
export function checkSecurity(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const workload of workloads(objects)) {
    const spec = workload.spec.template.spec;
    const where = label(workload);
    const pod = spec.securityContext ?? {};
    if (pod.runAsNonRoot !== true || !(pod.runAsUser > 0)) {
      problems.push(`${where}: pods must run as a non-root user (runAsNonRoot, runAsUser)`);
    }
    if (pod.seccompProfile?.type !== 'RuntimeDefault') {
      problems.push(`${where}: pods need the RuntimeDefault seccomp profile`);
    }
    if (spec.automountServiceAccountToken !== false) {
      problems.push(`${where}: mounts a service account token it never uses`);
    }
    const account = objects.find((o) => o.kind === 'ServiceAccount' &&
      o.metadata.name === spec.serviceAccountName) as Any;
    if (!account || account.automountServiceAccountToken !== false) {
      problems.push(`${where}: needs its own ServiceAccount ${spec.serviceAccountName}, ` +
        'without a token');
    }
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const s = c.securityContext ?? {};
      if (s.allowPrivilegeEscalation !== false || s.readOnlyRootFilesystem !== true ||
          !(s.capabilities?.drop ?? []).includes('ALL') || s.privileged) {
        problems.push(`${where} ${c.name}: needs allowPrivilegeEscalation false, a read-only ` +
          'root file system and all capabilities dropped');
      }
      if (!c.resources?.requests || !c.resources?.limits) {
        problems.push(`${where} ${c.name}: needs resource requests and limits`);
      }
      if (/:latest$|^[^:]+$/.test(c.image)) problems.push(`${where} ${c.name}: image untagged`);
    }
  }
  for (const o of objects) {
    if (['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(o.kind)) {
      problems.push(`${label(o)}: no Delta component needs Kubernetes API rights`);
    }
  }
  const accounts = new Set(workloads(objects)
    .map((w) => w.spec.template.spec.serviceAccountName));
  if (accounts.size !== workloads(objects).length) {
    problems.push('each workload needs a ServiceAccount of its own');
  }
  return problems;
}

/** Every workload's pods: one PodDisruptionBudget for the services, one NetworkPolicy each. */
export function checkDisruptionAndPolicies(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const workload of workloads(objects)) {
    const labels = workload.spec.template.metadata.labels;
    const policies = ofKind(objects, 'NetworkPolicy')
      .filter((p) => selects(p.spec.podSelector, labels));
    if (policies.length !== 1) {
      problems.push(`${label(workload)}: ${policies.length} NetworkPolicies select its pods; ` +
        'one should say all it may do');
    }
    for (const p of policies) {
      const types = p.spec.policyTypes ?? [];
      if (!types.includes('Ingress') || !types.includes('Egress')) {
        problems.push(`${label(p)}: must isolate both ingress and egress`);
      }
      for (const rule of [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])]) {
        if (!rule.ports?.length || !(rule.from ?? rule.to)?.length) {
          problems.push(`${label(p)}: a rule without ports or peers allows everything`);
        }
      }
    }
    if (workload.kind === 'StatefulSet') {
      const budgets = ofKind(objects, 'PodDisruptionBudget')
        .filter((b) => selects(b.spec.selector, labels));
      if (budgets.length !== 1) {
        problems.push(`${label(workload)}: needs one PodDisruptionBudget (has ${budgets.length})`);
      }
    }
  }
  return problems;
}

/** A service's network policy allows its gRPC port in and exactly its dependencies out. */
export function checkServicePolicy(objects: readonly K8sObject[], facts: ServiceFacts): string[] {
  const { workload, pod, container } = serviceWorkload(objects, facts);
  const policy = ofKind(objects, 'NetworkPolicy')
    .find((p) => selects(p.spec.podSelector, pod.metadata.labels));
  if (!policy) return [`${label(workload)}: no NetworkPolicy`];
  const problems: string[] = [];
  const values = envValues(objects, workload, container);
  const grpc = container.ports.find((p: Any) => p.name === 'grpc')?.containerPort;
  const inPorts = (policy.spec.ingress ?? []).flatMap((r: Any) => r.ports)
    .map((p: Any) => portNumber(p.port, container));
  if (inPorts.length !== 1 || inPorts[0] !== grpc) {
    problems.push(`${label(policy)}: ingress should allow the gRPC port ${grpc} only ` +
      `(allows ${inPorts.join(', ')})`);
  }
  const kafka = hostPort(values.DELTA_KAFKA_BROKERS!.split(',')[0]!).port;
  const otlp = hostPort(values.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://none:0').port;
  const outPorts = new Set((policy.spec.egress ?? []).flatMap((r: Any) => r.ports)
    .map((p: Any) => `${p.protocol ?? 'TCP'}/${p.port}`));
  const wanted = new Set([`TCP/${kafka}`, `TCP/${otlp}`, 'UDP/53', 'TCP/53']);
  if ([...wanted].some((p) => !outPorts.has(p)) || outPorts.size !== wanted.size) {
    problems.push(`${label(policy)}: egress should be Kafka (${kafka}), the collector (${otlp}) ` +
      `and DNS, nothing else (allows ${[...outPorts].join(', ')})`);
  }
  return problems;
}
