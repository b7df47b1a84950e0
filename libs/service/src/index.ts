// @delta/service: the runtime every Delta service shares - env, telemetry, logs, Kafka, jobs
// and the gRPC server - so a service's own code is its RPC checks and its jobs' work.
export * from './job-service.js';
export * from './main.js';
export * from './roots.js';
