// The delta.v1 contracts: generated messages and services, and the default topic names.

export * from './gen/delta/v1/common_pb.js';
export * from './gen/delta/v1/evaluator_pb.js';
export * from './gen/delta/v1/generator_pb.js';
export * from './gen/delta/v1/pairer_pb.js';
export * from './gen/delta/v1/records_pb.js';
export * from './gen/delta/v1/trainer_pb.js';
export * from './topics.js';
