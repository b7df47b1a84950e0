#!/usr/bin/env node
// Entry point of the installed `delta` command: wires main() to the process streams.
import { main } from './main.js';

// The first Ctrl-C asks the command to stop cleanly; a second one ends the process at once.
const interrupt = new AbortController();
process.on('SIGINT', () => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});
process.on('SIGTERM', () => interrupt.abort());

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY,
  columns: process.stderr.columns,
  env: process.env,
  cwd: process.cwd(),
  signal: interrupt.signal,
});
