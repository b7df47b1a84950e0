import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// The global setup provides DELTA_KAFKA_BROKERS (a throwaway broker when it is unset).
export default mergeConfig(shared, defineProject({
  test: { name: 'generator', globalSetup: ['../../libs/stream/src/global-setup.ts'] },
}));
