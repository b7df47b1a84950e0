// What a handler knows about the call it serves: cancellation, deadline, metadata, peer.
import type { Metadata } from '@grpc/grpc-js';

/** Passed to every handler next to the request. */
export interface CallContext {
  /** The gRPC path, "/delta.v1.GeneratorService/StartGeneration". */
  readonly method: string;
  /**
   * Aborted when the client cancels, the deadline passes, or the server is forced down; long
   * work should check it (or pass it on) and stop.
   */
  readonly signal: AbortSignal;
  /** When the client gives up; undefined when it set no deadline. */
  readonly deadline: Date | undefined;
  /** Request metadata (headers) as the client sent them. */
  readonly metadata: Metadata;
  /** The client's address. */
  readonly peer: string;
}
