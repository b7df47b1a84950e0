// Encoding and decoding of record values and headers, and trace context in Kafka headers.
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  context,
  propagation,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { StreamError } from './errors.js';
import type { ReceivedRecord, Topic } from './topic.js';

/** Serialises a value (message or init object) of the topic's schema. */
export function encodeValue<D extends DescMessage>(schema: D, value: MessageInitShape<D>): Buffer {
  const message =
    (value as { $typeName?: string }).$typeName === schema.typeName ? value : create(schema, value);
  return Buffer.from(toBinary(schema, message as Parameters<typeof toBinary<D>>[1]));
}

/** Header values as strings (kafkajs gives Buffers, strings or arrays of them). */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[key] = first.toString();
  }
  return out;
}

/** Decodes one kafkajs message of `topic`, or throws a DECODE StreamError naming its place. */
export function decodeRecord<D extends DescMessage>(
  topic: Topic<D>,
  partition: number,
  message: KafkaMessage,
): ReceivedRecord<D> {
  const where = { topic: topic.name, partition, offset: message.offset };
  if (!message.value) {
    throw new StreamError(
      'DECODE',
      `${topic.name}[${partition}]@${message.offset}: empty value ` +
        `(a tombstone?) where ${topic.schema.typeName} was expected`,
      { record: where },
    );
  }
  let value;
  try {
    value = fromBinary(topic.schema, message.value);
  } catch (err) {
    throw new StreamError(
      'DECODE',
      `${topic.name}[${partition}]@${message.offset}: value is not ` +
        `a ${topic.schema.typeName} (${(err as Error).message})`,
      { record: where, cause: err },
    );
  }
  return {
    topic: topic.name,
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? '',
    value,
    headers: headersToStrings(message.headers),
    timestamp: message.timestamp,
  };
}

const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const headerGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Adds traceparent/baggage of `ctx` to headers (no-op until telemetry is started). */
export function injectContext(headers: Record<string, string>, ctx: Context = context.active()) {
  propagation.inject(ctx, headers, headerSetter);
  return headers;
}

/** The context a producer sent in a record's headers. */
export function extractContext(headers: Record<string, string>): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}
