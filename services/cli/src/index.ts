// The delta command line as a library, so other tools and tests can run it in-process.
export { main, COMMANDS } from './main.js';
export { CliError, type Command, type CommandIo } from './command.js';
