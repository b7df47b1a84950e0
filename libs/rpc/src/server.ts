// A gRPC server for protobuf-es services: typed async handlers, health (grpc.health.v1),
// reflection, deadlines and cancellation as an AbortSignal, errors mapped to status codes, a
// server span per call, bounded message sizes, TLS, and a graceful shutdown on SIGTERM.
import {
  Metadata,
  Server,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import {
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import { assertSupported, serviceDefinition, methodPath, type ServiceImpl } from './adapter.js';
import type { CallContext } from './context.js';
import { codeName, RpcError, toRpcError } from './errors.js';
import { addReflection } from './reflection.js';
import { serverCredentials, type ServerTls } from './tls.js';
import { metadataGetter } from './propagation.js';

/** A service descriptor with its handlers. Use `implement()` to have the handlers type-checked. */
export interface ServiceBinding {
  readonly service: DescService;
  readonly impl: object;
}

/** Pairs a service with its handlers and checks them against the descriptor's types. */
export function implement<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceBinding {
  return { service, impl };
}

/** Server settings; every field but `services` has a default fit for local runs and tests. */
export interface ServerOptions {
  services: readonly ServiceBinding[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port, read back from `port`. */
  port?: number;
  tls?: ServerTls;
  /** Largest message received or sent; default 16 MiB. */
  maxMessageBytes?: number;
  /** How long in-flight calls may run once shutdown starts; default 10 s. */
  shutdownGraceMs?: number;
  /** Add grpc.reflection (default true). */
  reflection?: boolean;
  /**
   * Called for every call that fails, with the error sent (its cause kept) and the method path;
   * the service logs here. Errors thrown by this callback are swallowed.
   */
  onError?: (error: RpcError, method: string) => void;
  /**
   * On SIGTERM or SIGINT run shutdown() and then exit the process (code 0, or 1 when a hook
   * failed). Off by default: a library should not exit the process unless asked.
   */
  handleSignals?: boolean;
}

/** A shutdown hook: finish or checkpoint background work. Its error is reported, not thrown. */
export type ShutdownHook = (reason: string) => Promise<void> | void;

/** What shutdown() did. */
export interface ShutdownReport {
  reason: string;
  /** Calls still running when the grace period ended (they were cancelled). */
  cancelledCalls: number;
  /** Hooks that threw, by name. */
  hookErrors: { name: string; error: unknown }[];
}

/** A running server. */
export interface RpcServer {
  readonly host: string;
  readonly port: number;
  /** "host:port", as a client dials it. */
  readonly address: string;
  /** Calls being served now. */
  readonly inFlight: number;
  /** Sets the health status of one service (or of the server: ""). */
  setServing(serving: boolean, service?: string): void;
  /** Registers work to run during shutdown, after in-flight calls end, in registration order. */
  onShutdown(name: string, hook: ShutdownHook): void;
  /**
   * Health NOT_SERVING, stop accepting calls, let in-flight calls finish for the grace period
   * (then cancel them), run the shutdown hooks. Safe to call more than once.
   */
  shutdown(reason?: string): Promise<ShutdownReport>;
}

const tracer = trace.getTracer('@delta/rpc');

function startServerSpan(
  method: DescMethod,
  metadata: Metadata,
): { span: Span; ctx: ReturnType<typeof context.active> } {
  const parent = propagation.extract(context.active(), metadata, metadataGetter);
  const span = tracer.startSpan(
    `${method.parent.typeName}/${method.name}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': method.parent.typeName,
        'rpc.method': method.name,
      },
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

function endSpan(span: Span, error?: RpcError): void {
  span.setAttribute('rpc.grpc.status_code', error ? error.code : Status.OK);
  if (error)
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: `${codeName(error.code)}: ${error.message}`,
    });
  span.end();
}

/**
 * Builds, binds and starts a server for the given services, with health and reflection.
 * Rejects (with the bind error as cause) when the address cannot be bound.
 */
export async function createServer(options: ServerOptions): Promise<RpcServer> {
  const host = options.host ?? '127.0.0.1';
  const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
  });

  // Every running call, so shutdown can wait for them and cancel the stragglers.
  const calls = new Set<AbortController>();
  let draining = false;
  const report = (error: RpcError, method: string) => {
    try {
      options.onError?.(error, method);
    } catch {
      /* a logging callback must not break calls */
    }
  };

  const begin = (
    call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
    method: DescMethod,
  ): CallContext & { controller: AbortController } => {
    const controller = new AbortController();
    calls.add(controller);
    const deadline = call.getDeadline();
    const when =
      deadline instanceof Date
        ? deadline
        : Number.isFinite(deadline)
          ? new Date(deadline)
          : undefined;
    call.on('cancelled', () => {
      const expired = when !== undefined && Date.now() >= when.getTime();
      controller.abort(
        expired
          ? new RpcError(Status.DEADLINE_EXCEEDED, 'the deadline passed')
          : new RpcError(Status.CANCELLED, 'the client cancelled the call'),
      );
    });
    return {
      controller,
      method: methodPath(method),
      signal: controller.signal,
      deadline: when,
      metadata: call.metadata,
      peer: call.getPeer(),
    };
  };

  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  const implementations: { service: DescService; handlers: UntypedServiceImplementation }[] = [];
  for (const { service, impl } of options.services) {
    const handlers: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      assertSupported(method);
      const handler = (impl as Record<string, unknown>)[method.localName];
      if (typeof handler !== 'function') {
        throw new Error(
          `${methodPath(method)}: no handler "${method.localName}" in the implementation`,
        );
      }
      handlers[method.localName] =
        method.methodKind === 'unary'
          ? unaryHandler(method, handler.bind(impl), begin, calls, report)
          : streamHandler(method, handler.bind(impl), begin, calls, report);
    }
    server.addService(serviceDefinition(service), handlers);
    implementations.push({ service, handlers });
    health.setStatus(service.typeName, 'NOT_SERVING');
  }
  health.addToServer(server);
  if (options.reflection ?? true)
    addReflection(
      server,
      options.services.map((s) => s.service),
    );

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host}:${options.port ?? 0}`,
      serverCredentials(options.tls),
      (err, bound) => {
        if (err)
          reject(
            new Error(`cannot listen on ${host}:${options.port ?? 0}: ${err.message}`, {
              cause: err,
            }),
          );
        else resolve(bound);
      },
    );
  });
  const statuses = new Map<string, ServingStatus>();
  const setStatus = (service: string, value: ServingStatus) => {
    statuses.set(service, value);
    health.setStatus(service, value);
  };
  setStatus('', 'SERVING');
  for (const { service } of implementations) setStatus(service.typeName, 'SERVING');

  const hooks: { name: string; hook: ShutdownHook }[] = [];
  let shuttingDown: Promise<ShutdownReport> | undefined;

  const shutdown = (reason = 'shutdown'): Promise<ShutdownReport> => {
    shuttingDown ??= (async () => {
      draining = true;
      for (const service of statuses.keys()) setStatus(service, 'NOT_SERVING');

      // Stop accepting; tryShutdown resolves once every in-flight call has ended.
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([drained, graceOver]);
      clearTimeout(timer);
      let cancelledCalls = 0;
      if (outcome === 'timeout') {
        cancelledCalls = calls.size;
        for (const controller of calls) {
          controller.abort(new RpcError(Status.UNAVAILABLE, 'the server is shutting down'));
        }
        server.forceShutdown();
      }

      const hookErrors: ShutdownReport['hookErrors'] = [];
      for (const { name, hook } of hooks) {
        try {
          await hook(reason);
        } catch (error) {
          hookErrors.push({ name, error });
        }
      }
      return { reason, cancelledCalls, hookErrors };
    })();
    return shuttingDown;
  };

  if (options.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      void shutdown(signal).then((result) => process.exit(result.hookErrors.length > 0 ? 1 : 0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return {
    host,
    port,
    address: `${host}:${port}`,
    get inFlight() {
      return calls.size;
    },
    setServing(serving, service = '') {
      if (!draining) setStatus(service, serving ? 'SERVING' : 'NOT_SERVING');
    },
    onShutdown(name, hook) {
      hooks.push({ name, hook });
    },
    shutdown,
  };
}

type Begin = (
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
  method: DescMethod,
) => CallContext & { controller: AbortController };
type Report = (error: RpcError, method: string) => void;

function unaryHandler(
  method: DescMethod,
  handler: (...args: never[]) => unknown,
  begin: Begin,
  calls: Set<AbortController>,
  report: Report,
) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const { controller, ...ctx } = begin(call, method);
    const { span, ctx: spanCtx } = startServerSpan(method, call.metadata);
    context.with(spanCtx, async () => {
      try {
        const response = await (handler as (r: unknown, c: CallContext) => Promise<unknown>)(
          call.request,
          ctx,
        );
        endSpan(span);
        callback(null, response);
      } catch (err) {
        const error =
          controller.signal.aborted && !(err instanceof RpcError)
            ? toRpcError(controller.signal.reason)
            : toRpcError(err);
        endSpan(span, error);
        report(error, ctx.method);
        callback({ code: error.code, details: error.message, metadata: new Metadata() });
      } finally {
        calls.delete(controller);
      }
    });
  };
}

function streamHandler(
  method: DescMethod,
  handler: (...args: never[]) => unknown,
  begin: Begin,
  calls: Set<AbortController>,
  report: Report,
) {
  return (call: ServerWritableStream<unknown, unknown>) => {
    const { controller, ...ctx } = begin(call, method);
    const { span, ctx: spanCtx } = startServerSpan(method, call.metadata);
    context.with(spanCtx, async () => {
      try {
        const responses = (handler as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(
          call.request,
          ctx,
        );
        for await (const response of responses) {
          if (controller.signal.aborted) break;
          if (!call.write(response)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                call.off('drain', done);
                controller.signal.removeEventListener('abort', done);
                resolve();
              };
              call.on('drain', done);
              controller.signal.addEventListener('abort', done);
            });
          }
        }
        if (controller.signal.aborted) throw controller.signal.reason;
        endSpan(span);
        call.end();
      } catch (err) {
        const error = toRpcError(err);
        endSpan(span, error);
        report(error, ctx.method);
        call.emit('error', { code: error.code, details: error.message, metadata: new Metadata() });
      } finally {
        calls.delete(controller);
      }
    });
  };
}
