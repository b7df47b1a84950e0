// Settings every project's tests share: sources of workspace packages are imported directly
// (the "@delta/source" export condition), so tests never run against stale builds.
import { defineConfig } from 'vitest/config';

const conditions = ['@delta/source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    passWithNoTests: true,
  },
});
