// The pairer service on the shared job runtime: StartPairing checks the spec (policy, models,
// topics, paths inside the roots) and the job joins responses into preference pairs exactly
// once through Kafka transactions. See pairing-job.ts for the work and README.md for the design.
import { PairerService, type PairingJob } from '@delta/contracts';
import { PAIRING } from '@delta/jobs';
import type { JobServiceDefinition } from '@delta/service';
import { readPairerConfig, type PairerConfig } from './config.js';
import { runPairingJob } from './pairing-job.js';
import { prepareSpec } from './spec.js';

export { pairerEnvSpec, readPairerConfig, type PairerConfig } from './config.js';

/** Default gRPC port of the pairer. */
export const PAIRER_PORT = 50052;

/**
 * The pairer's definition for startJobService. Its own settings come from `config` (read the
 * DELTA_PAIRER_* variables with readPairerConfig), so tests can pass their own.
 */
export function pairerDefinition(
  config: PairerConfig = readPairerConfig(),
): JobServiceDefinition<PairingJob> {
  return {
    name: 'pairer',
    defaultPort: PAIRER_PORT,
    kind: PAIRING,
    service: PairerService,
    prepare: (spec, ctx) => prepareSpec(spec, ctx, config),
    run: (job, ctx) => runPairingJob(job, ctx, config),
  };
}
