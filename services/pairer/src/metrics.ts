// The pairer's metrics: responses read, pairs written and drops by reason, counted when the
// transaction that carries them commits (so a retried batch is not counted twice).
import type { PairingStatus } from '@delta/contracts';
import type { Counter, Meter } from '@opentelemetry/api';

/** Counters of one job's work, fed from committed status changes. */
export interface PairerMetrics {
  readonly imported: Counter;
  /** Adds what changed between two committed statuses. */
  record(before: PairingStatus, after: PairingStatus, pairs: number): void;
}

/** Creates the pairer's instruments on `meter`. */
export function pairerMetrics(meter: Meter): PairerMetrics {
  const responses = meter.createCounter('delta.pairer.responses', {
    description: 'Responses of the job\'s run read from the responses topic', unit: '{response}',
  });
  const pairs = meter.createCounter('delta.pairer.pairs', {
    description: 'Pairs written to the pairs topic', unit: '{pair}',
  });
  const dropped = meter.createCounter('delta.pairer.dropped', {
    description: 'Candidate pairs (or responses) dropped, by reason', unit: '{pair}',
  });
  const imported = meter.createCounter('delta.pairer.imported', {
    description: 'Responses imported from files into the responses topic', unit: '{response}',
  });
  return {
    imported,
    record(before, after, written) {
      const read = Number(after.responsesRead - before.responsesRead);
      if (read > 0) responses.add(read);
      if (written > 0) pairs.add(written);
      for (const [reason, n] of Object.entries(after.dropped)) {
        const added = Number(n - (before.dropped[reason] ?? 0n));
        if (added > 0) dropped.add(added, { 'delta.pairer.reason': reason });
      }
    },
  };
}
