// Topic administration: create topics with partitions and config (the compacted jobs topic
// among them), read end offsets and committed offsets, delete topics.
import type { Admin, Kafka } from 'kafkajs';
import { JOBS_TOPIC, PAIRS_TOPIC, PROMPTS_TOPIC, RESPONSES_TOPIC } from '@delta/contracts';
import { toStreamError } from './errors.js';
import type { Topic } from './topic.js';

/** A topic to ensure: partitions and config apply only when it is created. */
export interface TopicSpec {
  topic: Topic | string;
  /** Default 1. Keys hash to partitions, so a prompt's records stay in one. */
  partitions?: number;
  /** Topic-level config, for example { 'cleanup.policy': 'compact' }. */
  config?: Record<string, string>;
}

/** Config of the jobs topic: compacted, so the latest state of every job is kept forever. */
export const JOBS_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'min.cleanable.dirty.ratio': '0.1',
  'segment.ms': '3600000',
};

/** The pipeline's topics with Delta's defaults; `partitions` applies to the data topics. */
export function defaultTopicSpecs(partitions = 1): TopicSpec[] {
  return [
    { topic: PROMPTS_TOPIC, partitions },
    { topic: RESPONSES_TOPIC, partitions },
    { topic: PAIRS_TOPIC, partitions },
    { topic: JOBS_TOPIC, partitions: 1, config: { ...JOBS_TOPIC_CONFIG } },
  ];
}

function nameOf(topic: Topic | string): string {
  return typeof topic === 'string' ? topic : topic.name;
}

/** Admin operations; connects on first use. */
export class StreamAdmin {
  private readonly admin: Admin;
  private connecting?: Promise<void>;

  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }

  private async ready(): Promise<Admin> {
    this.connecting ??= this.admin.connect().catch((err) => {
      this.connecting = undefined;
      throw toStreamError(err, 'CONNECTION', 'admin could not connect');
    });
    await this.connecting;
    return this.admin;
  }

  /**
   * Creates the topics that do not exist yet and waits until they have leaders. Existing
   * topics are left as they are. Returns the names it created.
   */
  async ensureTopics(specs: readonly TopicSpec[]): Promise<string[]> {
    const admin = await this.ready();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(nameOf(s.topic)));
      if (missing.length === 0) return [];
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: nameOf(s.topic),
          numPartitions: s.partitions ?? 1,
          configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
      return missing.map((s) => nameOf(s.topic));
    } catch (err) {
      throw toStreamError(
        err,
        'ADMIN',
        `creating topics ${specs.map((s) => nameOf(s.topic)).join(', ')} failed`,
      );
    }
  }

  /** The offset after the last record of each partition (the high watermark). */
  async endOffsets(topic: Topic | string): Promise<Map<number, bigint>> {
    const admin = await this.ready();
    try {
      const offsets = await admin.fetchTopicOffsets(nameOf(topic));
      return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
    } catch (err) {
      throw toStreamError(err, 'ADMIN', `reading end offsets of ${nameOf(topic)} failed`);
    }
  }

  /** The committed offset of a group on each partition of a topic (-1n when none). */
  async committedOffsets(groupId: string, topic: Topic | string): Promise<Map<number, bigint>> {
    const admin = await this.ready();
    try {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [nameOf(topic)] });
      return new Map((entry?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    } catch (err) {
      throw toStreamError(err, 'ADMIN', `reading offsets of group ${groupId} failed`);
    }
  }

  /** Records not yet consumed by a group, summed over partitions. */
  async lag(groupId: string, topic: Topic | string): Promise<bigint> {
    const [end, committed] = await Promise.all([
      this.endOffsets(topic),
      this.committedOffsets(groupId, topic),
    ]);
    let total = 0n;
    for (const [partition, high] of end) {
      const at = committed.get(partition) ?? -1n;
      total += at < 0n ? high : high - at;
    }
    return total;
  }

  /** Topic config values as the broker reports them. */
  async topicConfig(topic: Topic | string): Promise<Record<string, string>> {
    const admin = await this.ready();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2 /* TOPIC */, name: nameOf(topic) }],
      });
      return Object.fromEntries(
        (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
      );
    } catch (err) {
      throw toStreamError(err, 'ADMIN', `reading the config of ${nameOf(topic)} failed`);
    }
  }

  async listTopics(): Promise<string[]> {
    const admin = await this.ready();
    try {
      return await admin.listTopics();
    } catch (err) {
      throw toStreamError(err, 'ADMIN', 'listing topics failed');
    }
  }

  /** Deletes topics (missing ones are ignored). */
  async deleteTopics(topics: readonly (Topic | string)[]): Promise<void> {
    const admin = await this.ready();
    const existing = new Set(await admin.listTopics());
    const names = topics.map(nameOf).filter((n) => existing.has(n));
    if (names.length === 0) return;
    try {
      await admin.deleteTopics({ topics: names });
    } catch (err) {
      throw toStreamError(err, 'ADMIN', `deleting ${names.join(', ')} failed`);
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connecting) return;
    this.connecting = undefined;
    await this.admin.disconnect();
  }
}
