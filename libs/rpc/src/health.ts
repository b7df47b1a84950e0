// Asks a server's standard health service (grpc.health.v1) whether it serves; what `delta stack
// up` and readiness probes wait on.
import { makeGenericClientConstructor, status as Status, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { RpcError, toRpcError } from './errors.js';
import { channelCredentials, type ClientTls } from './tls.js';

/** What grpc.health.v1 reports for a service. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');

/**
 * The health of `service` ("" for the whole server) at `address`. Rejects with an RpcError
 * (UNAVAILABLE when nothing answers within `timeoutMs`).
 */
export function checkHealth(
  address: string,
  service = '',
  options: { tls?: ClientTls; timeoutMs?: number } = {},
): Promise<HealthStatus> {
  const client = new HealthClient(address, channelCredentials(options.tls));
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  return new Promise<HealthStatus>((resolve, reject) => {
    (
      client as unknown as {
        check: (
          req: object,
          opts: object,
          cb: (e: ServiceError | null, r: { status: HealthStatus }) => void,
        ) => void;
      }
    ).check({ service }, { deadline }, (err, response) => {
      client.close();
      if (err) {
        if (err.code === Status.NOT_FOUND) resolve('SERVICE_UNKNOWN');
        else reject(toRpcError(err));
      } else {
        resolve(response.status);
      }
    });
  });
}

/** Polls checkHealth until SERVING or until `timeoutMs` passes (then UNAVAILABLE). */
export async function waitForServing(
  address: string,
  options: { service?: string; tls?: ClientTls; timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const until = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < until) {
    try {
      const status = await checkHealth(address, options.service ?? '', {
        ...(options.tls ? { tls: options.tls } : {}),
        timeoutMs: 2_000,
      });
      if (status === 'SERVING') return;
      last = status;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
  throw new RpcError(Status.UNAVAILABLE, `${address} did not report SERVING in time`, last);
}
