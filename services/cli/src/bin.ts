#!/usr/bin/env node
// Entry point of the installed `delta` command: wires main() to the process streams.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
