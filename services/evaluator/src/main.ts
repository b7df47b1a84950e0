#!/usr/bin/env node
// The delta-evaluator process: reads its settings, then serves until SIGTERM. A bad variable
// exits 2 with every problem listed, as the runtime does for its own variables.
import { ConfigError } from '@delta/rpc';
import { runServiceMain } from '@delta/service';
import { evaluatorService } from './definition.js';

let definition;
try {
  definition = evaluatorService();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`delta-evaluator: ${err.message}\n`);
  process.exit(2);
}
await runServiceMain(definition);
