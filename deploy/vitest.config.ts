import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

// The global setup builds the pinned kustomize once (into .cache/kustomize) when it is missing.
export default mergeConfig(shared, defineProject({
  test: { name: 'deploy', globalSetup: ['test/global-setup.ts'] },
}));
