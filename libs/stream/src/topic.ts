// Typed topics: a name and the protobuf message every value on it is. Keys are strings (prompt
// ids, or job ids on the jobs topic), so all records of one key land in one partition.
import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';

/** A topic whose values are messages of `schema`. */
export interface Topic<D extends DescMessage = DescMessage> {
  readonly name: string;
  readonly schema: D;
}

/** Declares a typed topic. */
export function topic<D extends DescMessage>(name: string, schema: D): Topic<D> {
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(name)) {
    throw new Error(`topic name "${name}" is not valid (letters, digits, . _ -, at most 249)`);
  }
  return { name, schema };
}

/**
 * A record to send: a key, a value (message or init object) and optional headers. A `null`
 * value is a tombstone: on a compacted topic it deletes the key.
 */
export interface OutgoingRecord<D extends DescMessage = DescMessage> {
  key: string;
  value: MessageInitShape<D> | null;
  headers?: Record<string, string>;
  /** Force a partition; by default the key's hash picks it. */
  partition?: number;
}

/** A record received from a topic, its value decoded. */
export interface ReceivedRecord<D extends DescMessage = DescMessage> {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  key: string;
  value: MessageShape<D>;
  headers: Record<string, string>;
  /** Broker or producer timestamp, ms since the epoch, as a string. */
  timestamp: string;
}

/** The union of record types of a list of topics. */
export type RecordOf<T extends Topic> = T extends Topic<infer D> ? ReceivedRecord<D> : never;
