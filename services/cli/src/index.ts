// The delta command line as a library, so other tools and tests can run it in-process.
export { main, COMMANDS } from './main.js';
export { CliError, type Command, type CommandIo } from './command.js';
export { RunError, type RunErrorCode } from './errors.js';
export { parsePipeline, readPipeline, type ParseOptions, type TaskCatalog } from './pipeline/parse.js';
export type * from './pipeline/types.js';
export {
  readStackRecord, stackDown, stackStatus, stackUp, type StackOptions, type StackRecord,
} from './stack/stack.js';
export { readState, type RunState, type StageName } from './run/state.js';
export { reportData, type ReportData } from './report/data.js';
