#!/usr/bin/env node
// Entry point of the installed `delta` command: wires main() to the process streams and turns
// Ctrl-C into the abort signal of the commands that stop cleanly on it.
import { main } from './main.js';

// A command that reads `signal` stops cleanly on the first Ctrl-C (a run says how to resume);
// a second one, or one during a command that never asked for the signal, ends the process.
const interrupt = new AbortController();
let signalTaken = false;
const onSignal = (code: number) => () => {
  if (interrupt.signal.aborted || !signalTaken) process.exit(code);
  interrupt.abort();
};
process.on('SIGINT', onSignal(130));
process.on('SIGTERM', onSignal(143));

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY,
  columns: process.stderr.columns,
  env: process.env,
  cwd: process.cwd(),
  get signal() {
    signalTaken = true;
    return interrupt.signal;
  },
});
