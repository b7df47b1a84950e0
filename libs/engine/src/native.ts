// Loads the compiled addon (build/delta_engine.node) and types its surface. Only this file
// touches the raw binding; everything else goes through Model and Trainer.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EngineError } from './errors.js';

/** A padded batch as the addon takes it: row-major [B, T] int32 arrays. */
export interface NativeBatch {
  B: number;
  T: number;
  ids: Int32Array;
  positions: Int32Array;
  mask: Int32Array;
  targets?: Int32Array;
}

/** A parameter as the addon lists it: Hugging Face name, shape, element count. */
export interface NativeParam {
  name: string;
  shape: number[];
  size: number;
}

/** The model fields the addon reads (see ModelConfig for their meaning). */
export interface NativeModelConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  slidingWindow: number;
  tieWordEmbeddings: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  ropeScaling: {
    type: string;
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalMaxPositionEmbeddings: number;
  };
}

/** The addon's model object; Model wraps it with checks and file formats. */
export interface NativeModel {
  paramTable(): NativeParam[];
  readParam(name: string, out: Float32Array): void;
  writeParam(name: string, data: Float32Array): void;
  initRandom(seed: number, std: number): void;
  setThreads(threads: number): void;
  workspaceBytes(): number;
  logits(batch: NativeBatch, out: Float32Array): Promise<void>;
  sequenceLogProbs(batch: NativeBatch, sums: Float64Array, counts: Int32Array): Promise<void>;
}

/** A step's metrics as the addon returns them (see StepMetrics). */
export interface NativeStepMetrics {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  rewardsChosen: number;
  rewardsRejected: number;
  rewardsMargin: number;
  rewardsAccuracy: number;
  logpsChosen: number;
  logpsRejected: number;
  nllChosen: number;
  pairs: number;
  sequences: number;
  tokens: number;
  lossTokens: number;
  seconds: number;
  tokensPerSecond: number;
  matmulFlops: number;
}

/** Per-parameter trainer state: gradients and AdamW's first and second moments. */
export type StateKind = 'grad' | 'exp_avg' | 'exp_avg_sq';

/** The addon's trainer object; Trainer wraps it with batching and typed configs. */
export interface NativeTrainer {
  step(
    micro: NativeBatch[],
    ref: Float64Array | null,
    refCounts: Int32Array | null,
    apply: boolean,
  ): Promise<NativeStepMetrics>;
  readState(kind: StateKind, name: string, out: Float32Array): void;
  writeState(kind: StateKind, name: string, data: Float32Array): void;
  stepsDone(): number;
  setStepsDone(step: number): void;
  arenaBytes(): number;
}

/** What the addon exports. */
export interface NativeBinding {
  NativeModel: new (config: NativeModelConfig, threads: number, device?: string) => NativeModel;
  NativeTrainer: new (model: NativeModel, config: object) => NativeTrainer;
  backend: string;
}

let binding: NativeBinding | undefined;

/** The addon, loaded once; a missing build is reported with the command that makes it. */
export function native(): NativeBinding {
  if (binding) return binding;
  const file = fileURLToPath(new URL('../build/delta_engine.node', import.meta.url));
  if (!existsSync(file)) {
    throw new EngineError(
      'INVALID_STATE',
      `the native engine is not built (${file} is missing); run \`npx nx build @delta/engine\``,
    );
  }
  binding = createRequire(import.meta.url)(file) as NativeBinding;
  return binding;
}

/** The devices this build of the addon computes on ("cpu"; a CUDA build lists "cuda" too). */
export function engineBackends(): string[] {
  return native().backend.split(/[\s,]+/).filter(Boolean);
}
