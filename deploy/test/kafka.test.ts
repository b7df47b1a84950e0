// Kafka as the overlays deploy it agrees with the code: the topics of libs/contracts, the jobs
// topic compacted as libs/stream creates it, the brokers' address in every service, replication
// within the one broker, and generator replicas (fixed or KEDA's) within the prompts topic's
// partitions. The last block shows each drift caught.
import { describe, expect, it } from 'vitest';
import { checkBrokers, checkScaling, checkTopics } from './support/check-kafka.js';
import {
  AUTOSCALE, OVERLAYS, edited, find, render, renderWith, type K8sObject,
} from './support/render.js';
import { SERVICE_NAMES, serviceFacts } from './support/services.js';

const facts = SERVICE_NAMES.map((n) => serviceFacts()[n]);
const rendered: [string, K8sObject[]][] = [
  ...OVERLAYS.map((dir) => [dir, render(dir)] as [string, K8sObject[]]),
  ['dev + generator-autoscale', renderWith(OVERLAYS[0], [AUTOSCALE])],
];

describe.each(rendered)('%s', (_, objects) => {
  it('has a KafkaTopic for each pipeline topic and the jobs topic compacted', () => {
    expect(checkTopics(objects)).toEqual([]);
  });
  it('points every service at the plain listener and replicates within the brokers', () => {
    expect(checkBrokers(objects, facts)).toEqual([]);
  });
  it('keeps generator replicas within the prompts topic\'s partitions', () => {
    expect(checkScaling(objects)).toEqual([]);
  });
});

describe('the autoscaling component', () => {
  const objects = renderWith(OVERLAYS[0], [AUTOSCALE]);

  it('scales the generator StatefulSet on a generator group\'s lag over delta.prompts', () => {
    const scaled = find(objects, 'ScaledObject', 'delta-generator');
    expect(scaled.spec.scaleTargetRef).toEqual(
      { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'delta-generator' });
    expect(scaled.spec.triggers[0].metadata).toMatchObject({
      topic: 'delta.prompts', bootstrapServers: 'delta-kafka-bootstrap.delta.svc:9092' });
  });

  it('lets KEDA\'s namespace through the Kafka listener beside the four services', () => {
    const peers = find(objects, 'Kafka', 'delta').spec.kafka.listeners[0].networkPolicyPeers;
    expect(peers).toHaveLength(2);
    expect(peers[1]).toEqual(
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } });
  });
});

describe('drift is caught', () => {
  const objects = renderWith(OVERLAYS[0], [AUTOSCALE]);
  const changed = (edit: (objects: K8sObject[]) => void) => edited(objects, edit);

  it('a renamed topic and a jobs topic that is not compacted', () => {
    const o = changed((x) => {
      find(x, 'KafkaTopic', 'delta-pairs').spec.topicName = 'delta.pair';
      delete find(x, 'KafkaTopic', 'delta-jobs').spec.config['cleanup.policy'];
    });
    expect(checkTopics(o)).toEqual([
      'no KafkaTopic for delta.pairs (libs/contracts/src/topics.ts)',
      'KafkaTopic delta.pair is no topic of the pipeline',
      'KafkaTopic/delta-jobs: cleanup.policy is undefined, libs/stream sets compact',
    ]);
  });

  it('a listener on another port than the services use', () => {
    const o = changed((x) => { find(x, 'Kafka', 'delta').spec.kafka.listeners[0].port = 9093; });
    const problems = checkBrokers(o, facts);
    expect(problems).toHaveLength(8);
    expect(problems[0]).toBe('StatefulSet/delta-generator: DELTA_KAFKA_BROKERS ' +
      'delta-kafka-bootstrap:9092 is not the plain listener delta-kafka-bootstrap:9093');
  });

  it('replication above the broker count', () => {
    const o = changed((x) => {
      find(x, 'Kafka', 'delta').spec.kafka.config['transaction.state.log.replication.factor'] = 3;
    });
    expect(checkBrokers(o, facts)).toEqual(['Kafka/delta: transaction.state.log.replication.factor ' +
      '3 exceeds the 1 broker(s); transactions and consumer groups would fail']);
  });

  it('more generator replicas, or a higher KEDA bound, than partitions', () => {
    const o = changed((x) => {
      find(x, 'StatefulSet', 'delta-generator').spec.replicas = 5;
      find(x, 'ScaledObject', 'delta-generator').spec.maxReplicaCount = 8;
      find(x, 'ScaledObject', 'delta-generator').spec.triggers[0].metadata.consumerGroup = 'gen';
    });
    expect(checkScaling(o)).toEqual([
      'StatefulSet/delta-generator: 5 replicas, but delta.prompts has 4 partitions; the rest ' +
        'would sit idle',
      'ScaledObject/delta-generator: maxReplicaCount 8 exceeds the 4 partitions of delta.prompts',
      'ScaledObject/delta-generator: consumerGroup gen is not a generator group ' +
        '(delta.generator.<run>.<model>)',
    ]);
  });
});
