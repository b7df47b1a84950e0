import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

// The global setup provides DELTA_KAFKA_BROKERS (a throwaway broker when it is unset); the
// stack the tests start uses it instead of starting a broker of its own.
export default mergeConfig(shared, defineProject({
  test: {
    name: 'e2e',
    include: ['e2e/**/*.test.ts'],
    globalSetup: ['../libs/stream/src/global-setup.ts'],
    testTimeout: 600_000,
    // Each file runs a whole stack of processes; side by side they would contend for the
    // default ports and the two cores.
    fileParallelism: false,
  },
}));
