// The `main` of a service process: start it, exit 2 with every bad variable listed when the
// configuration is wrong, exit 1 when it cannot start for another reason.
import { ConfigError } from '@delta/rpc';
import type { AnyJob } from '@delta/jobs';
import { startJobService, type JobServiceDefinition, type RunningService } from './job-service.js';

/** Starts the service for a process, handling SIGTERM/SIGINT; never resolves on failure. */
export async function runServiceMain<J extends AnyJob>(
  def: JobServiceDefinition<J>,
): Promise<RunningService<J>> {
  try {
    return await startJobService(def, { handleSignals: true });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`delta-${def.name}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`delta-${def.name}: could not start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  }
}
