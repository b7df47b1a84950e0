// @delta/stream: typed Kafka topics for Delta - protobuf values and string keys, an idempotent
// producer, consumers that commit after their handler, exactly-once transforms, topic admin.
export {
  Stream,
  createStream,
  parseBrokers,
  brokersFromEnv,
  type StreamOptions,
} from './stream.js';
export {
  topic,
  type Topic,
  type OutgoingRecord,
  type ReceivedRecord,
  type RecordOf,
} from './topic.js';
export { StreamProducer, type ProducerOptions, type SendResult } from './producer.js';
export {
  StreamConsumer,
  type ConsumerOptions,
  type RunOptions,
  type MessageHandler,
  type BatchHandler,
  type BatchContext,
} from './consumer.js';
export {
  StreamTransactor,
  output,
  type TransactorOptions,
  type TransactorRunOptions,
  type Transform,
  type Output,
} from './transactor.js';
export { StreamAdmin, JOBS_TOPIC_CONFIG, defaultTopicSpecs, type TopicSpec } from './admin.js';
export { StreamError, type StreamErrorCode, type RecordLocation } from './errors.js';
export type { StreamLogger, StreamLogLevel } from './logger.js';
export { injectContext, extractContext, decodeRecord, encodeValue } from './codec.js';
