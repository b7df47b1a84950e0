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
  },
}));
