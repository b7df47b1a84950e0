// Settings every project's tests share: sources of workspace packages are imported directly
// (the "@delta/source" export condition), so tests never run against stale builds.
import path from 'node:path';
import { defineConfig } from 'vitest/config';

const conditions = ['@delta/source', 'node', 'import', 'default'];

// Under `npm test` each project also writes a JSON report there; scripts/test.mjs sums them.
const reportDir = process.env.DELTA_TEST_REPORT_DIR;
const reportName = `${path.basename(path.dirname(process.cwd()))}-${path.basename(process.cwd())}`;
const reports = reportDir
  ? {
      reporters: ['default', 'json'],
      outputFile: { json: path.join(reportDir, `${reportName}.json`) },
    }
  : {};

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    passWithNoTests: true,
    ...reports,
  },
});
