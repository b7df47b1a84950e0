// A typed gRPC client for a protobuf-es service: promise-returning unary methods, async
// iterables for server streams, deadlines, cancellation by AbortSignal, a client span per call
// with trace context sent in metadata, and every failure as an RpcError.
import {
  Client as GrpcClient,
  Metadata,
  status as Status,
  type CallOptions as GrpcCallOptions,
  type ChannelOptions,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import {
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import { methodDefinition, methodPath } from './adapter.js';
import { codeName, RpcError, toRpcError } from './errors.js';
import { metadataSetter } from './propagation.js';
import { channelCredentials, type ClientTls } from './tls.js';

/** Per-call options. */
export interface CallOptions {
  /** Milliseconds the call may take; overrides the client's default for unary calls. */
  deadlineMs?: number;
  /** Cancels the call when aborted (the call fails with CANCELLED). */
  signal?: AbortSignal;
  /** Extra request metadata. */
  metadata?: Record<string, string>;
}

/** Client settings. */
export interface ClientOptions {
  tls?: ClientTls;
  /** Deadline of unary calls without one of their own; default 60 s. Streams have none. */
  defaultDeadlineMs?: number;
  /** Largest message sent or received; default 16 MiB. */
  maxMessageBytes?: number;
  /** Metadata sent with every call (an auth token, a client name). */
  metadata?: Record<string, string>;
  channelOptions?: ChannelOptions;
}

type ClientMethod<M> = M extends { methodKind: 'unary'; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
      : never
    : never
  : M extends { methodKind: 'server_streaming'; input: infer I; output: infer O }
    ? I extends DescMessage
      ? O extends DescMessage
        ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
        : never
      : never
    : never;

/** The typed client of a service: one method per RPC, plus close() and waitForReady(). */
export type Client<S> = (S extends GenService<infer M extends GenServiceMethods>
  ? { [K in keyof M]: ClientMethod<M[K]> }
  : Record<string, (request: object, options?: CallOptions) => unknown>) & {
  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void;
  /** Resolves once the channel is connected, or rejects with UNAVAILABLE after `timeoutMs`. */
  waitForReady(timeoutMs?: number): Promise<void>;
};

const tracer = trace.getTracer('@delta/rpc');

function outgoingMetadata(
  base: Record<string, string> | undefined,
  extra: Record<string, string> | undefined,
  span: Span,
): Metadata {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries({ ...base, ...extra })) metadata.set(k, v);
  propagation.inject(trace.setSpan(context.active(), span), metadata, metadataSetter);
  return metadata;
}

function startClientSpan(method: DescMethod): Span {
  return tracer.startSpan(`${method.parent.typeName}/${method.name}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'rpc.system': 'grpc',
      'rpc.service': method.parent.typeName,
      'rpc.method': method.name,
    },
  });
}

function finishSpan(span: Span, error?: RpcError): void {
  span.setAttribute('rpc.grpc.status_code', error ? error.code : Status.OK);
  if (error)
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: `${codeName(error.code)}: ${error.message}`,
    });
  span.end();
}

function fromServiceError(err: ServiceError | Error): RpcError {
  return toRpcError(err);
}

/**
 * Creates a client for `service` at `address` ("host:port"). The channel connects lazily on
 * the first call; waitForReady() connects ahead of time.
 */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): Client<S> {
  const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const grpc = new GrpcClient(address, channelCredentials(options.tls), {
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    ...options.channelOptions,
  });
  const defaultDeadlineMs = options.defaultDeadlineMs ?? 60_000;
  const client: Record<string, unknown> = {};

  for (const method of service.methods) {
    const definition = methodDefinition(method);
    const path = methodPath(method);

    if (method.methodKind === 'unary') {
      client[method.localName] = (request: object, callOptions: CallOptions = {}) => {
        const span = startClientSpan(method);
        const metadata = outgoingMetadata(options.metadata, callOptions.metadata, span);
        const grpcOptions: GrpcCallOptions = {
          deadline: Date.now() + (callOptions.deadlineMs ?? defaultDeadlineMs),
        };
        return new Promise((resolve, reject) => {
          const call = grpc.makeUnaryRequest(
            path,
            definition.requestSerialize,
            definition.responseDeserialize,
            request,
            metadata,
            grpcOptions,
            (err, response) => {
              callOptions.signal?.removeEventListener('abort', cancel);
              if (err) {
                const error = fromServiceError(err);
                finishSpan(span, error);
                reject(error);
              } else {
                finishSpan(span);
                resolve(response);
              }
            },
          );
          const cancel = () => call.cancel();
          if (callOptions.signal?.aborted) call.cancel();
          else callOptions.signal?.addEventListener('abort', cancel, { once: true });
        });
      };
    } else {
      client[method.localName] = (request: object, callOptions: CallOptions = {}) => ({
        [Symbol.asyncIterator]: () =>
          streamIterator(grpc, path, definition, method, request, callOptions, options.metadata),
      });
    }
  }

  client.close = () => grpc.close();
  client.waitForReady = (timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      grpc.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err)
          reject(
            new RpcError(Status.UNAVAILABLE, `${address} is not reachable: ${err.message}`, err),
          );
        else resolve();
      });
    });
  return client as Client<S>;
}

async function* streamIterator(
  grpc: GrpcClient,
  path: string,
  definition: ReturnType<typeof methodDefinition>,
  method: DescMethod,
  request: object,
  callOptions: CallOptions,
  baseMetadata: Record<string, string> | undefined,
): AsyncGenerator<unknown> {
  const span = startClientSpan(method);
  const metadata = outgoingMetadata(baseMetadata, callOptions.metadata, span);
  const grpcOptions: GrpcCallOptions =
    callOptions.deadlineMs !== undefined ? { deadline: Date.now() + callOptions.deadlineMs } : {};
  const call: ClientReadableStream<unknown> = grpc.makeServerStreamRequest(
    path,
    definition.requestSerialize,
    definition.responseDeserialize,
    request,
    metadata,
    grpcOptions,
  );
  const cancel = () => call.cancel();
  if (callOptions.signal?.aborted) call.cancel();
  else callOptions.signal?.addEventListener('abort', cancel, { once: true });

  let finished = false;
  try {
    for await (const message of call) yield message;
    finished = true;
    finishSpan(span);
  } catch (err) {
    finished = true;
    const error = fromServiceError(err as Error);
    finishSpan(span, error);
    throw error;
  } finally {
    callOptions.signal?.removeEventListener('abort', cancel);
    if (!finished) {
      // The consumer stopped early (break or return): end the call on the server too.
      call.cancel();
      finishSpan(span);
    }
  }
}
