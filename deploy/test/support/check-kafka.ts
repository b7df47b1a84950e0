// Checks that Kafka as deployed matches what the code expects: topic names from libs/contracts,
// the jobs topic compacted as libs/stream creates it, the brokers' address and port as the
// services are told, replication no higher than the brokers, and generator replicas (fixed or
// scaled by KEDA) bounded by the prompts topic's partitions.
import { JOBS_TOPIC, PROMPTS_TOPIC } from '@delta/contracts';
import { promptsGroupId } from '@delta/generator';
import { JOBS_TOPIC_CONFIG, defaultTopicSpecs } from '@delta/stream';
import { hostPort, envValues, serviceWorkload } from './check-services.js';
import { find, label, ofKind, type K8sObject } from './render.js';
import type { ServiceFacts } from './services.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** The namespace an overlay renders into (all namespaced objects agree, else undefined). */
function namespaceOf(objects: readonly K8sObject[]): string | undefined {
  const spaces = new Set(objects.map((o) => o.metadata.namespace).filter(Boolean));
  return spaces.size === 1 ? [...spaces][0] : undefined;
}

/** Topics: exactly the pipeline's, the jobs topic as libs/stream makes it. */
export function checkTopics(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const topics = ofKind(objects, 'KafkaTopic');
  const byName = new Map(topics.map((t) => [t.spec.topicName ?? t.metadata.name, t]));
  const wanted = defaultTopicSpecs().map((s) => String(s.topic));
  for (const name of wanted) {
    if (!byName.has(name)) problems.push(`no KafkaTopic for ${name} (libs/contracts/src/topics.ts)`);
  }
  for (const name of byName.keys()) {
    if (!wanted.includes(name)) problems.push(`KafkaTopic ${name} is no topic of the pipeline`);
  }
  const jobs = byName.get(JOBS_TOPIC);
  if (jobs) {
    for (const [key, value] of Object.entries(JOBS_TOPIC_CONFIG)) {
      if (String(jobs.spec.config?.[key]) !== value) {
        problems.push(`${label(jobs)}: ${key} is ${jobs.spec.config?.[key]}, ` +
          `libs/stream sets ${value}`);
      }
    }
    if (jobs.spec.partitions !== 1) problems.push(`${label(jobs)}: the jobs topic has 1 partition`);
  }
  return problems;
}

/** Brokers: the address the services use, replication within the broker count. */
export function checkBrokers(
  objects: readonly K8sObject[], services: readonly ServiceFacts[],
): string[] {
  const problems: string[] = [];
  const kafka = ofKind(objects, 'Kafka')[0];
  if (!kafka) return ['no Kafka resource'];
  const listener = kafka.spec.kafka.listeners.find((l: Any) => l.type === 'internal' && !l.tls);
  const bootstrap = `${kafka.metadata.name}-kafka-bootstrap`;
  const brokers = ofKind(objects, 'KafkaNodePool')
    .filter((p) => p.metadata.labels?.['strimzi.io/cluster'] === kafka.metadata.name &&
      p.spec.roles.includes('broker'))
    .reduce((n, p) => n + p.spec.replicas, 0);

  for (const facts of services) {
    const { workload, container } = serviceWorkload(objects, facts);
    const values = envValues(objects, workload, container);
    const { host, port } = hostPort(values.DELTA_KAFKA_BROKERS!.split(',')[0]!);
    if (host !== bootstrap || port !== listener?.port) {
      problems.push(`${label(workload)}: DELTA_KAFKA_BROKERS ${values.DELTA_KAFKA_BROKERS} is ` +
        `not the plain listener ${bootstrap}:${listener?.port}`);
    }
    if (values.DELTA_JOBS_TOPIC !== undefined && values.DELTA_JOBS_TOPIC !== JOBS_TOPIC) {
      problems.push(`${label(workload)}: DELTA_JOBS_TOPIC is not the KafkaTopic ${JOBS_TOPIC}`);
    }
    const policy = ofKind(objects, 'NetworkPolicy')
      .find((p) => p.metadata.name === workload.metadata.name);
    const toKafka = policy?.spec.egress?.find((r: Any) =>
      r.to?.some((peer: Any) =>
        peer.podSelector?.matchLabels?.['strimzi.io/cluster'] === kafka.metadata.name));
    if (!toKafka?.ports?.some((p: Any) => p.port === listener?.port)) {
      problems.push(`${label(workload)}: its NetworkPolicy does not reach the brokers of ` +
        `${kafka.metadata.name} on ${listener?.port}`);
    }
  }

  const config = kafka.spec.kafka.config ?? {};
  for (const key of ['offsets.topic.replication.factor', 'transaction.state.log.replication.factor',
    'default.replication.factor', 'transaction.state.log.min.isr', 'min.insync.replicas']) {
    if (Number(config[key] ?? 3) > brokers) {
      problems.push(`${label(kafka)}: ${key} ${config[key] ?? '3 (default)'} exceeds the ` +
        `${brokers} broker(s); transactions and consumer groups would fail`);
    }
  }
  for (const topic of ofKind(objects, 'KafkaTopic')) {
    if (topic.spec.replicas > brokers) {
      problems.push(`${label(topic)}: ${topic.spec.replicas} replicas on ${brokers} broker(s)`);
    }
    if (topic.metadata.labels?.['strimzi.io/cluster'] !== kafka.metadata.name) {
      problems.push(`${label(topic)}: not labelled for cluster ${kafka.metadata.name}`);
    }
  }
  return problems;
}

/** Generator replicas and KEDA's bounds within the prompts topic's partitions. */
export function checkScaling(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const prompts = ofKind(objects, 'KafkaTopic').find((t) => t.spec.topicName === PROMPTS_TOPIC);
  const partitions = prompts?.spec.partitions ?? 0;
  const generator = find(objects, 'StatefulSet', 'delta-generator');
  if (generator.spec.replicas > partitions) {
    problems.push(`${label(generator)}: ${generator.spec.replicas} replicas, but ${PROMPTS_TOPIC} ` +
      `has ${partitions} partitions; the rest would sit idle`);
  }
  const groupShape = new RegExp(`^${promptsGroupId('RUN', 'MODEL').replace(/\./g, '\\.')
    .replace('RUN', '[A-Za-z0-9._-]+').replace('MODEL', '[A-Za-z0-9._-]+')}$`);
  for (const scaled of ofKind(objects, 'ScaledObject')) {
    const where = label(scaled);
    const target = scaled.spec.scaleTargetRef;
    if (target.kind !== 'StatefulSet' || target.name !== generator.metadata.name) {
      problems.push(`${where}: should scale ${label(generator)}`);
    }
    if (scaled.spec.maxReplicaCount > partitions) {
      problems.push(`${where}: maxReplicaCount ${scaled.spec.maxReplicaCount} exceeds the ` +
        `${partitions} partitions of ${PROMPTS_TOPIC}`);
    }
    const kafka = ofKind(objects, 'Kafka')[0];
    const listener = kafka?.spec.kafka.listeners.find((l: Any) => l.type === 'internal' && !l.tls);
    for (const trigger of scaled.spec.triggers) {
      if (trigger.type !== 'kafka') continue;
      const m = trigger.metadata;
      if (m.topic !== PROMPTS_TOPIC) problems.push(`${where}: trigger topic ${m.topic}`);
      if (!groupShape.test(m.consumerGroup)) {
        problems.push(`${where}: consumerGroup ${m.consumerGroup} is not a generator group ` +
          `(${promptsGroupId('RUN', 'MODEL').replace('RUN', '<run>').replace('MODEL', '<model>')})`);
      }
      const wanted = `${kafka?.metadata.name}-kafka-bootstrap.${namespaceOf(objects)}.svc:` +
        `${listener?.port}`;
      if (m.bootstrapServers !== wanted) {
        problems.push(`${where}: bootstrapServers ${m.bootstrapServers}; the brokers are ${wanted}`);
      }
    }
    const peers = kafka?.spec.kafka.listeners.flatMap((l: Any) => l.networkPolicyPeers ?? []) ?? [];
    const keda = (p: Any) =>
      p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'keda';
    if (!peers.some(keda)) {
      problems.push(`${where}: the Kafka listener does not let KEDA's operator in`);
    }
  }
  return problems;
}
