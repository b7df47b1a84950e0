#!/usr/bin/env node
// The delta-pairer process: reads its settings, serves gRPC, runs pairing jobs, and stops in
// order on SIGTERM. Exit 2 means bad configuration, with every bad variable listed.
import { ConfigError } from '@delta/rpc';
import { runServiceMain } from '@delta/service';
import { pairerDefinition, readPairerConfig, type PairerConfig } from './definition.js';

let config: PairerConfig;
try {
  config = readPairerConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`delta-pairer: ${err.message}\n`);
  process.exit(2);
}
await runServiceMain(pairerDefinition(config));
