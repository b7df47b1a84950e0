// A vitest globalSetup (entry point @delta/stream/global-setup): makes sure DELTA_KAFKA_BROKERS
// names a broker for every test file of the project, starting one when it is unset, and stops
// what it started when the run ends.
import { startTestKafka } from './testing.js';

/** Starts (or reuses) the broker; vitest calls the returned function at the end of the run. */
export default async function setup(): Promise<() => Promise<void>> {
  const kafka = await startTestKafka();
  process.env.DELTA_KAFKA_BROKERS = kafka.brokers;
  return async () => {
    await kafka.stop();
  };
}
