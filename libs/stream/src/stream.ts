// Entry point of @delta/stream: one Stream per service holds the kafkajs client and makes the
// producers, consumers, transactors and admin that share its brokers and logger.
import kafkajs, { type Kafka as KafkaClient, type RetryOptions } from 'kafkajs';
import { StreamAdmin } from './admin.js';
import { StreamConsumer, type ConsumerOptions } from './consumer.js';
import { StreamError } from './errors.js';
import { kafkaLogLevel, logCreatorFor, type StreamLogger, type StreamLogLevel } from './logger.js';
import { StreamProducer, type ProducerOptions } from './producer.js';
import { StreamTransactor, type TransactorOptions } from './transactor.js';

const { Kafka } = kafkajs;

/** How to reach the brokers. */
export interface StreamOptions {
  /** "host:port" list, or one comma-separated string (as DELTA_KAFKA_BROKERS holds). */
  brokers: string | readonly string[];
  /** Client id shown in broker logs and quotas; the service name. */
  clientId: string;
  /** Receives kafkajs's log entries; without one nothing is logged. */
  logger?: StreamLogger;
  /** Least severe level passed to the logger; default "warn". */
  logLevel?: StreamLogLevel;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** kafkajs retry policy for requests (exponential backoff with jitter). */
  retry?: RetryOptions;
}

/** Splits and checks a broker list; throws a CONFIG StreamError naming the bad entry. */
export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === 'string' ? brokers.split(',') : [...brokers])
    .map((b) => b.trim())
    .filter(Boolean);
  if (list.length === 0) throw new StreamError('CONFIG', 'no Kafka brokers given');
  for (const broker of list) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) {
      throw new StreamError('CONFIG', `Kafka broker "${broker}" is not host:port`);
    }
  }
  return list;
}

/** The broker list from DELTA_KAFKA_BROKERS; a CONFIG error when it is unset. */
export function brokersFromEnv(source: Record<string, string | undefined> = process.env): string[] {
  const raw = source.DELTA_KAFKA_BROKERS;
  if (!raw) throw new StreamError('CONFIG', 'DELTA_KAFKA_BROKERS: required (host:port,...)');
  return parseBrokers(raw);
}

/** A connection to one Kafka cluster. Creating it opens nothing; each part connects itself. */
export class Stream {
  /** The underlying kafkajs client, for what this library does not wrap. */
  readonly kafka: KafkaClient;
  readonly brokers: readonly string[];

  constructor(readonly options: StreamOptions) {
    this.brokers = parseBrokers(options.brokers);
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...this.brokers],
      logLevel: kafkaLogLevel(options.logger, options.logLevel ?? 'warn'),
      logCreator: logCreatorFor(options.logger),
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      ...(options.retry ? { retry: options.retry } : {}),
    });
  }

  /** An idempotent producer (acks from all in-sync replicas). */
  producer(options: ProducerOptions = {}): StreamProducer {
    return new StreamProducer(this.kafka, options);
  }

  /** A consumer in a group that commits each record only after its handler succeeded. */
  consumer(options: ConsumerOptions): StreamConsumer {
    return new StreamConsumer(this.kafka, options);
  }

  /** Exactly-once consume-transform-produce (read_committed in, transactions out). */
  transactor(options: TransactorOptions): StreamTransactor {
    return new StreamTransactor(this.kafka, options);
  }

  /** Topic administration. */
  admin(): StreamAdmin {
    return new StreamAdmin(this.kafka);
  }
}

/** Creates a Stream; see StreamOptions. */
export function createStream(options: StreamOptions): Stream {
  return new Stream(options);
}
