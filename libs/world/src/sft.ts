// Supervised fine-tuning of one rung on the engine: a Llama initialised from a seed, examples
// tokenized as `<bos> prompt` / `response <eos>`, length-bucketed batches, AdamW with warmup and
// cosine decay. One visible loop; no checkpoints (a rung takes seconds to a few minutes, and
// the ladder's cache keeps finished rungs).
import { llamaConfig, Model, Trainer, type ModelConfig } from '@delta/engine';
import { WorldError } from './errors.js';
import { Rng } from './rng.js';
import { BOS_ID, encode, EOS_ID, VOCAB_SIZE } from './tokenizer.js';

/** A prompt and the response a model should learn to write after it. */
export interface TextExample {
  prompt: string;
  response: string;
}

/** The size of a rung's model. */
export interface RungShape {
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
}

/** How a rung is trained. */
export interface SftSettings {
  steps: number;
  /** Sequences per step. */
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** The learning rate decays by cosine to minLrRatio x lr at the last step. */
  minLrRatio: number;
  betas: [number, number];
  maxGradNorm: number;
  /** Batches whose sequences are sorted by length together (less padding). */
  bucketWindow: number;
}

/** Progress of a training run, for a caller's display. */
export interface SftProgress {
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
}

/** The longest sequence the world's models take (prompt, response, BOS and EOS). */
export const CONTEXT_LENGTH = 256;

/** The engine config of a rung: a Llama with the world's vocabulary and context. */
export function rungConfig(shape: RungShape): ModelConfig {
  return llamaConfig({
    vocabSize: VOCAB_SIZE,
    hiddenSize: shape.hiddenSize,
    intermediateSize: shape.intermediateSize,
    numLayers: shape.numLayers,
    numHeads: shape.numHeads,
    numKvHeads: shape.numHeads,
    maxPositionEmbeddings: CONTEXT_LENGTH,
    bosTokenId: BOS_ID,
    eosTokenId: EOS_ID,
  });
}

/**
 * A rung at initialisation: N(0, 0.02) weights from `seed`, with the output projections of
 * attention and MLP scaled by 1/sqrt(2 x layers) so the residual stream starts the same size
 * at any depth.
 */
export function initRung(shape: RungShape, seed: number, threads: number): Model {
  const model = Model.random(rungConfig(shape), { seed, threads, initStd: 0.02 });
  const scale = 1 / Math.sqrt(2 * shape.numLayers);
  for (const p of model.parameters()) {
    if (p.name.endsWith('o_proj.weight') || p.name.endsWith('down_proj.weight')) {
      const w = model.readParameter(p.name);
      for (let i = 0; i < w.length; i++) w[i]! *= scale;
      model.writeParameter(p.name, w);
    }
  }
  return model;
}

/** Token ids of an example: the prompt after BOS, the response followed by EOS. */
export function tokenizeExample(e: TextExample): { prompt: number[]; response: number[] } {
  return { prompt: [BOS_ID, ...encode(e.prompt, 'prompt')],
    response: [...encode(e.response, 'response'), EOS_ID] };
}

/**
 * The order examples are seen in: one shuffle per epoch, then within each window of
 * `bucketWindow` batches the examples are sorted by length and cut into batches, whose order
 * is shuffled again. Deterministic for a seed.
 */
export function batchOrder(lengths: readonly number[], settings: SftSettings, seed: number):
  number[][] {
  const rng = Rng.derive(seed, 'batches');
  const batches: number[][] = [];
  const window = settings.batchSize * settings.bucketWindow;
  while (batches.length < settings.steps) {
    const epoch = rng.shuffle(lengths.map((_, i) => i));
    const epochBatches: number[][] = [];
    for (let w = 0; w < epoch.length; w += window) {
      const chunk = epoch.slice(w, w + window).sort((a, b) => lengths[a]! - lengths[b]!);
      for (let b = 0; b + settings.batchSize <= chunk.length; b += settings.batchSize) {
        epochBatches.push(chunk.slice(b, b + settings.batchSize));
      }
    }
    if (epochBatches.length === 0) {
      throw new WorldError('INVALID_RECIPE',
        `${lengths.length} examples do not fill one batch of ${settings.batchSize}`);
    }
    batches.push(...rng.shuffle(epochBatches));
  }
  return batches.slice(0, settings.steps);
}

/** Trains `model` in place on `examples`; resolves with the last step's loss. */
export async function trainSft(
  model: Model,
  examples: readonly TextExample[],
  settings: SftSettings,
  seed: number,
  onProgress?: (p: SftProgress) => void,
): Promise<{ loss: number; seconds: number }> {
  const data = examples.map(tokenizeExample);
  const lengths = data.map((d) => d.prompt.length + d.response.length);
  const longest = Math.max(...lengths);
  if (longest > CONTEXT_LENGTH) {
    throw new WorldError('INVALID_RECIPE', `an example has ${longest} tokens; the context is ` +
      `${CONTEXT_LENGTH}`);
  }
  let trainer: Trainer;
  try {
    trainer = new Trainer(model, {
      loss: { type: 'sft' },
      optimizer: { lr: settings.lr, betas: settings.betas, weightDecay: 0,
        maxGradNorm: settings.maxGradNorm },
      schedule: { type: 'cosine_min_lr', totalSteps: settings.steps,
        warmupSteps: settings.warmupSteps, minLrRatio: settings.minLrRatio },
      microBatchSize: settings.batchSize,
      maxLength: longest,
    });
  } catch (err) {
    throw new WorldError('TRAINING', `the trainer refused the settings: ${(err as Error).message}`,
      { cause: err });
  }
  const started = performance.now();
  let loss = NaN;
  const order = batchOrder(lengths, settings, seed);
  for (const [i, batch] of order.entries()) {
    let m;
    try {
      m = await trainer.step({ examples: batch.map((k) => data[k]!) });
    } catch (err) {
      throw new WorldError('TRAINING', `step ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
    loss = m.loss;
    if (!Number.isFinite(loss)) {
      throw new WorldError('TRAINING', `step ${i + 1}: the loss is ${loss}`);
    }
    onProgress?.({ step: i + 1, steps: settings.steps, loss, tokensPerSecond: m.tokensPerSecond });
  }
  return { loss, seconds: (performance.now() - started) / 1000 };
}
