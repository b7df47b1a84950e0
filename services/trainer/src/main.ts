#!/usr/bin/env node
// The delta-trainer process: checks the trainer's own variables (exit 2 listing every bad one),
// then serves the trainer on the shared runtime until SIGTERM.
import { ConfigError } from '@delta/rpc';
import { runServiceMain } from '@delta/service';
import { trainerDefinition, trainerLimits } from './definition.js';

try {
  trainerLimits(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`delta-trainer: ${err.message}\n`);
  process.exit(2);
}
await runServiceMain(trainerDefinition);
