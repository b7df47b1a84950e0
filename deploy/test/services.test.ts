// The manifests of each service agree with the service's own code: only declared variables,
// every required one, valid values; one port in the variable, the container, the probes and
// the Services; the image of the service's version; threads within the CPU limit; roots on
// mounted volumes; security contexts, service accounts, budgets and network policies. The
// last block changes one thing at a time and shows that each drift is caught.
import { describe, expect, it } from 'vitest';
import {
  checkDisruptionAndPolicies, checkEnv, checkPorts, checkResources, checkSecurity,
  checkServicePolicy, checkVolumes,
} from './support/check-services.js';
import { OVERLAYS, edited, find, render, type K8sObject } from './support/render.js';
import { SERVICE_NAMES, serviceFacts, telemetryVariables } from './support/services.js';

const facts = serviceFacts();

describe('the services as their code declares them', () => {
  it('reads the declared variables and the telemetry and log variables', () => {
    expect(Object.keys(facts.generator.spec)).toContain('DELTA_GENERATOR_THREADS');
    expect(Object.keys(facts.trainer.spec)).toContain('DELTA_KAFKA_BROKERS');
    expect(telemetryVariables()).toEqual(expect.arrayContaining([
      'DELTA_LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_METRICS_EXPORTER',
      'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_TRACES_EXPORTER']));
    expect(SERVICE_NAMES.map((n) => [facts[n].defaultPort, facts[n].healthService])).toEqual([
      [50051, 'delta.v1.GeneratorService'], [50052, 'delta.v1.PairerService'],
      [50053, 'delta.v1.TrainerService'], [50054, 'delta.v1.EvaluatorService']]);
  });
});

describe.each(OVERLAYS)('%s', (dir) => {
  const objects = render(dir);

  describe.each(SERVICE_NAMES)('%s', (name) => {
    it('sets only declared variables, every required one, with valid values', () => {
      expect(checkEnv(objects, facts[name])).toEqual([]);
    });
    it('uses one port for the server, the container, the gRPC probes and the Services', () => {
      expect(checkPorts(objects, facts[name])).toEqual([]);
    });
    it('runs its own image and version with threads within its CPU limit', () => {
      expect(checkResources(objects, facts[name])).toEqual([]);
    });
    it('has its model, data and output roots on mounted volumes', () => {
      expect(checkVolumes(objects, facts[name])).toEqual([]);
    });
    it('lets in gRPC only and out only Kafka, the collector and DNS', () => {
      expect(checkServicePolicy(objects, facts[name])).toEqual([]);
    });
  });

  it('runs every workload without root, privileges, API token or RBAC', () => {
    expect(checkSecurity(objects)).toEqual([]);
  });

  it('gives every workload one network policy and every service a disruption budget', () => {
    expect(checkDisruptionAndPolicies(objects)).toEqual([]);
  });
});

describe('drift is caught', () => {
  const objects = render(OVERLAYS[0]);
  const changed = (edit: (objects: K8sObject[]) => void) => edited(objects, edit);
  const generator = (o: K8sObject[]) =>
    find(o, 'StatefulSet', 'delta-generator').spec.template.spec.containers[0];
  const envMap = (o: K8sObject[], name: string) =>
    o.find((x) => x.kind === 'ConfigMap' && x.metadata.name.startsWith(name))!.data!;

  it('a container port that is not the service port', () => {
    const o = changed((x) => { generator(x).ports[0].containerPort = 50061; });
    expect(checkPorts(o, facts.generator)).toEqual([
      'StatefulSet/delta-generator generator: container port "grpc" is 50061, the service ' +
        'listens on 50051',
      'Service/delta-generator: port 50051 -> grpc does not reach the generator on 50051 at ' +
        'the same port',
      'Service/delta-generator-pods: port 50051 -> grpc does not reach the generator on 50051 ' +
        'at the same port',
    ]);
  });

  it('a DELTA_GRPC_PORT that moves the server away from its probes', () => {
    const o = changed((x) => { envMap(x, 'delta-generator-env').DELTA_GRPC_PORT = '50061'; });
    const problems = checkPorts(o, facts.generator);
    expect(problems[0]).toMatch(/DELTA_GRPC_PORT 50061 is not the generator's port 50051/);
    expect(problems).toContain('StatefulSet/delta-generator generator: readinessProbe asks port ' +
      '50051, the service listens on 50061');
  });

  it('a variable the service does not declare, and a missing required one', () => {
    const o = changed((x) => {
      const env = envMap(x, 'delta-generator-env');
      env.DELTA_GENERATOR_THREAD = '4';
      delete envMap(x, 'delta-common-env').DELTA_KAFKA_BROKERS;
    });
    const problems = checkEnv(o, facts.generator);
    expect(problems).toContain('StatefulSet/delta-generator generator: sets ' +
      'DELTA_GENERATOR_THREAD, which the generator does not declare');
    expect(problems).toContain(
      'StatefulSet/delta-generator generator: DELTA_KAFKA_BROKERS is required');
  });

  it('a value the service would refuse at start', () => {
    const o = changed((x) => { envMap(x, 'delta-generator-env').DELTA_GENERATOR_DEVICE = 'gpu'; });
    expect(checkEnv(o, facts.generator)).toEqual([expect.stringMatching(
      /DELTA_GENERATOR_DEVICE: "gpu" is not one of auto, cpu, cuda/)]);
  });

  it('a readiness probe asking about a service the health service does not know', () => {
    const o = changed((x) => { generator(x).readinessProbe.grpc.service = 'delta.v1.Generator'; });
    expect(checkPorts(o, facts.generator)).toContain('StatefulSet/delta-generator generator: ' +
      'readinessProbe asks about "delta.v1.Generator", which the health service does not ' +
      'report (it knows "" and "delta.v1.GeneratorService")');
  });

  it('more threads than the CPU limit, and an image of another version', () => {
    const o = changed((x) => {
      generator(x).resources.limits.cpu = '1';
      generator(x).image = 'delta/generator:0.0.9';
    });
    expect(checkResources(o, facts.generator)).toEqual([
      'StatefulSet/delta-generator generator: image delta/generator:0.0.9 is not ' +
        'delta/generator[-variant]:0.1.0 (the service\'s version)',
      'StatefulSet/delta-generator generator: DELTA_GENERATOR_THREADS=2 must be between 1 and ' +
        'the CPU limit (1); 0 would start a thread per core of the node',
    ]);
  });

  it('an output root on a read-only mount', () => {
    const o = changed((x) => {
      find(x, 'StatefulSet', 'delta-trainer').spec.template.spec.containers[0]
        .volumeMounts[0].readOnly = true;
    });
    expect(checkVolumes(o, facts.trainer)).toEqual(['StatefulSet/delta-trainer trainer: ' +
      '/var/lib/delta/runs is mounted read-only, but the trainer writes there']);
  });

  it('a container running as root and a pod with an API token', () => {
    const o = changed((x) => {
      const pod = find(x, 'StatefulSet', 'delta-pairer').spec.template.spec;
      pod.securityContext.runAsUser = 0;
      pod.automountServiceAccountToken = true;
    });
    expect(checkSecurity(o)).toEqual([
      'StatefulSet/delta-pairer: pods must run as a non-root user (runAsNonRoot, runAsUser)',
      'StatefulSet/delta-pairer: mounts a service account token it never uses',
    ]);
  });

  it('a network policy that opens another port', () => {
    const o = changed((x) => {
      find(x, 'NetworkPolicy', 'delta-pairer').spec.egress[0].ports.push({ port: 443 });
    });
    expect(checkServicePolicy(o, facts.pairer)).toEqual([expect.stringMatching(
      /egress should be Kafka \(9092\), the collector \(4318\) and DNS, nothing else/)]);
  });
});
