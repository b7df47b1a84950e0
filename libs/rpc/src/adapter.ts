// Maps protobuf-es service descriptors onto grpc-js method definitions: the method path, the
// stream flags and the binary (de)serialisers. Client and bidi streaming are not supported:
// no Delta contract uses them, and createServer/createClient refuse such a method.
import {
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { CallContext } from './context.js';

/** A unary handler: one request in, one response out. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

/** A server-streaming handler: one request in, a stream of responses out. */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

type HandlerOf<M> = M extends { methodKind: 'unary'; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? UnaryHandler<I, O>
      : never
    : never
  : M extends { methodKind: 'server_streaming'; input: infer I; output: infer O }
    ? I extends DescMessage
      ? O extends DescMessage
        ? ServerStreamingHandler<I, O>
        : never
      : never
    : never;

/** The handlers of a service, typed from its generated descriptor (one per method). */
export type ServiceImpl<S> =
  S extends GenService<infer M extends GenServiceMethods>
    ? { [K in keyof M]: HandlerOf<M[K]> }
    : Record<
        string,
        UnaryHandler<DescMessage, DescMessage> | ServerStreamingHandler<DescMessage, DescMessage>
      >;

/** The gRPC path of a method: "/delta.v1.GeneratorService/StartGeneration". */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Refuses client- and bidi-streaming methods with a clear error at start. */
export function assertSupported(method: DescMethod): void {
  if (method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming') {
    throw new Error(`${methodPath(method)}: ${method.methodKind} methods are not supported`);
  }
}

function serializer<D extends DescMessage>(schema: D) {
  return (value: MessageInitShape<D>): Buffer => {
    const message =
      (value as { $typeName?: string }).$typeName === schema.typeName
        ? (value as MessageShape<D>)
        : create(schema, value);
    return Buffer.from(toBinary(schema, message));
  };
}

function deserializer<D extends DescMessage>(schema: D) {
  return (bytes: Buffer): MessageShape<D> => fromBinary(schema, bytes);
}

/** The grpc-js definition of one method. */
export function methodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  assertSupported(method);
  return {
    path: methodPath(method),
    requestStream: false,
    responseStream: method.methodKind === 'server_streaming',
    requestSerialize: serializer(method.input) as (v: unknown) => Buffer,
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output) as (v: unknown) => Buffer,
    responseDeserialize: deserializer(method.output),
  };
}

/** The grpc-js service definition of a protobuf-es service, keyed by method local name. */
export function serviceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method);
  return definition as ServiceDefinition;
}
