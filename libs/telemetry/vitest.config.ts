import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// The trace test crosses a Kafka hop: the stream global setup provides DELTA_KAFKA_BROKERS.
export default mergeConfig(shared, defineProject({
  test: { name: 'telemetry', globalSetup: ['@delta/stream/global-setup'] },
}));
