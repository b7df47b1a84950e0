// Every overlay renders with the pinned kustomize, and every object it renders is valid for
// the Kubernetes API offline: core objects and KEDA's ScaledObject against kubernetes-models,
// Strimzi's resources against Strimzi's CRDs, and no object carries a field the schemas lack.
import { describe, expect, it } from 'vitest';
import { AUTOSCALE, OVERLAYS, find, render, renderWith, type K8sObject } from './support/render.js';
import {
  STRIMZI_VERSION, modelOf, nameProblems, unknownFields, validateModels, validateStrimzi,
} from './support/schemas.js';

const rendered: [string, K8sObject[]][] = [
  ...OVERLAYS.map((dir) => [dir, render(dir)] as [string, K8sObject[]]),
  ['dev + generator-autoscale', renderWith(OVERLAYS[0], [AUTOSCALE])],
];

describe.each(rendered)('%s', (_, objects) => {
  it('renders the four services, the collector, Jaeger, Kafka and its topics', () => {
    const kinds = (kind: string) => objects.filter((o) => o.kind === kind).map((o) => o.metadata.name);
    expect(kinds('StatefulSet').sort()).toEqual(
      ['delta-evaluator', 'delta-generator', 'delta-pairer', 'delta-trainer']);
    expect(kinds('Deployment').sort()).toEqual(['delta-jaeger', 'delta-otel-collector']);
    expect(kinds('Kafka')).toEqual(['delta']);
    expect(kinds('KafkaNodePool')).toEqual(['dual']);
    expect(kinds('KafkaTopic')).toHaveLength(4);
  });

  it('puts every namespaced object in the delta namespace', () => {
    const outside = objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== 'delta');
    expect(outside.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
  });

  it('validates every core and KEDA object against the kubernetes-models schemas', async () => {
    expect(await validateModels(objects)).toEqual([]);
  });

  it('has no field the core and KEDA schemas do not declare', () => {
    expect(unknownFields(objects)).toEqual([]);
  }, 120_000);

  it(`validates Kafka, KafkaNodePool and KafkaTopic against Strimzi ${STRIMZI_VERSION}`, () => {
    expect(validateStrimzi(objects)).toEqual([]);
  });

  it('has a schema for every object and valid object names', () => {
    const strimzi = ['Kafka', 'KafkaNodePool', 'KafkaTopic'];
    const unchecked = objects.filter((o) => !modelOf(o) && !strimzi.includes(o.kind));
    expect(unchecked.map((o) => o.kind)).toEqual([]);
    expect(nameProblems(objects)).toEqual([]);
  });
});

describe('the validation itself', () => {
  const objects = render(OVERLAYS[0]);
  const copy = <T>(o: T): T => structuredClone(o);

  it('refuses a misspelt field deep in a pod template', () => {
    const set = copy(find(objects, 'StatefulSet', 'delta-generator'));
    set.spec.template.spec.containers[0].readinesProbe = { grpc: { port: 50051 } };
    const problems = unknownFields([set]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/StatefulSet\/delta-generator: .*'readinesProbe' does not exist/);
  }, 120_000);

  it('refuses a value of the wrong type', async () => {
    const set = copy(find(objects, 'StatefulSet', 'delta-generator'));
    set.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
    expect((await validateModels([set]))[0]).toMatch(/containerPort must be integer/);
  });

  it('refuses a Strimzi field its CRD does not have, and a missing required one', () => {
    const topic = copy(find(objects, 'KafkaTopic', 'delta-prompts'));
    topic.spec.partiton = 8;
    const pool = copy(find(objects, 'KafkaNodePool', 'dual'));
    delete pool.spec.roles;
    expect(validateStrimzi([topic, pool])).toEqual([
      'KafkaTopic/delta-prompts: /spec must NOT have additional properties (partiton)',
      "KafkaNodePool/dual: /spec must have required property 'roles'",
    ]);
  });

  it('refuses a ScaledObject field KEDA does not have', () => {
    const scaled = copy(find(renderWith(OVERLAYS[0], [AUTOSCALE]), 'ScaledObject', 'delta-generator'));
    scaled.spec.maxReplicas = 4;
    expect(unknownFields([scaled])[0]).toMatch(/'maxReplicas' does not exist/);
  }, 120_000);
});
