// @delta/rpc: the gRPC kit every Delta service and the CLI use - protobuf-es services on
// grpc-js, health, reflection, deadlines, errors with status codes, TLS, env config, path roots.
export {
  createServer,
  implement,
  type RpcServer,
  type ServerOptions,
  type ServiceBinding,
  type ShutdownHook,
  type ShutdownReport,
} from './server.js';
export { createClient, type CallOptions, type Client, type ClientOptions } from './client.js';
export type { CallContext } from './context.js';
export {
  serviceDefinition,
  methodPath,
  type ServiceImpl,
  type UnaryHandler,
  type ServerStreamingHandler,
} from './adapter.js';
export { RpcError, Code, codeName, toRpcError } from './errors.js';
export {
  validate,
  invalidArgument,
  Violations,
  InvalidArgumentError,
  type FieldViolation,
} from './validate.js';
export { resolveFolderInside, resolveInside } from './paths.js';
export { ConfigError, env, readEnv, type EnvVar, type EnvValues } from './config.js';
export {
  serverEnvSpec,
  readServerEnv,
  serverEnvFrom,
  readClientTlsEnv,
  type ServerEnv,
} from './server-env.js';
export { serverCredentials, channelCredentials, type ServerTls, type ClientTls } from './tls.js';
export { checkHealth, waitForServing, type HealthStatus } from './health.js';
export { reflectionPackage } from './reflection.js';
export { metadataGetter, metadataSetter } from './propagation.js';
