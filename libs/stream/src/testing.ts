// Helpers for tests that need a real broker (entry point @delta/stream/testing). They use the
// broker in DELTA_KAFKA_BROKERS (npm test starts one) or start a throwaway one from tools/kafka,
// so one project's tests also run alone. Not for services.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

/** A broker for tests; stop() stops it only when this process started it. */
export interface TestKafka {
  brokers: string;
  /** True when this call started the broker (no DELTA_KAFKA_BROKERS was set). */
  owned: boolean;
  stop(): Promise<void>;
}

interface BrokerModule {
  startBroker(options?: {
    log?: (line: string) => void;
  }): Promise<{ brokers: string; stop(): Promise<void> }>;
}

/** tools/kafka/broker.mjs, found from this file (src/ or dist/ alike). */
function brokerModuleUrl(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(here, '../../../tools/kafka/broker.mjs');
  if (!existsSync(file)) throw new Error(`tools/kafka/broker.mjs not found at ${file}`);
  return pathToFileURL(file).href;
}

/**
 * The broker in DELTA_KAFKA_BROKERS, or a throwaway single-node broker started now (about 15 s;
 * the jars are fetched with Maven the first time).
 */
export async function startTestKafka(): Promise<TestKafka> {
  const fromEnv = process.env.DELTA_KAFKA_BROKERS;
  if (fromEnv) return { brokers: fromEnv, owned: false, stop: async () => {} };
  const { startBroker } = (await import(brokerModuleUrl())) as BrokerModule;
  const broker = await startBroker();
  return { brokers: broker.brokers, owned: true, stop: () => broker.stop() };
}

const runSuffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/**
 * A name unique to this test run ("delta.pairs" -> "delta.pairs.t-lq3k2-a1b2c3-1"), for topics,
 * groups and transactional ids, so projects can share one broker in parallel.
 */
export function uniqueName(base: string): string {
  uniqueName.counter += 1;
  return `${base}.t-${runSuffix}-${uniqueName.counter}`;
}
uniqueName.counter = 0;
