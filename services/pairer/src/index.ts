// @delta/pairer: joins responses of several models per prompt into preference pairs under a
// pairing policy (model ladder or scores), exactly once through Kafka transactions; imports
// response files and exports pairs as JSONL.
export * from './definition.js';
export { jobNames, runPairingJob } from './pairing-job.js';
export {
  adjacentRungs, ladderPolicy, pairId, scorePolicy, sizeFromConfig, sizeFromName,
  type Decision, type DropReason, type Filters, type Policy, type Resolution, type Rungs,
} from './policy.js';
export { JoinState, JoinStep, joinKey, type JoinContext, type PendingPrompt } from './join.js';
export { SCORER_NAMES, scorerFor, type Scorer } from './scorers.js';
export { IMPORT_FORMATS, readImport } from './importer.js';
export {
  comparePairs, preferenceLine, readJobPairs, writeExport, type PreferenceLine,
} from './export.js';
export { prepareSpec, policyOf, rankBySize } from './spec.js';
export { readToEnd, type ReadToEndOptions } from './read-to-end.js';
export { restoreState, stateTopics, type StateTopics } from './state-topic.js';
