// Names the trainer accepts, so a pipeline typo is caught with its line before any job runs.
// They mirror services/trainer/src/presets.ts (a test checks that they agree); the CLI does not
// import the trainer itself, which would load the native engine into a gRPC client.

/** The trainer's hyperparameter presets. */
export const TRAINER_PRESETS: readonly string[] = ['paper', 'tiny'];

/** The trainer's losses; `sft` trains on the chosen side only. */
export const TRAINER_LOSSES: readonly string[] =
  ['sft', 'sigmoid', 'dpo_norm', 'robust', 'ipo', 'hinge', 'simpo'];

/** The preset a training job gets when the pipeline names none. */
export const DEFAULT_PRESET = 'paper';
