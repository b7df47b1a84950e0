#!/usr/bin/env node
// The delta-generator process: reads its settings, then serves until SIGTERM. Exits 2 naming
// every bad variable when the configuration is wrong.
import { ConfigError } from '@delta/rpc';
import { runServiceMain } from '@delta/service';
import { createGeneratorService } from './definition.js';

let definition;
try {
  definition = createGeneratorService(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`delta-generator: ${err.message}\n`);
  process.exit(2);
}
await runServiceMain(definition);
