// A decoder held by the native engine: load it from a Hugging Face folder or a llama2.c file,
// or initialise it at random; read and write its tensors; run forward logits and sequence
// log-probs; save it back as a Hugging Face folder.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { nativeConfig, toHfConfig, type ModelConfig } from './config.js';
import { EngineError, toEngineError } from './errors.js';
import { openHfCheckpoint, writeHfCheckpoint, type HfSaveOptions } from './hf.js';
import { readLlama2c } from './llama2c.js';
import { native, type NativeModel, type NativeParam } from './native.js';
import { readTensor, type TensorToWrite } from './safetensors.js';
import { packInputs, packSequences, type PaddingOptions, type ScoredSequence } from './batch.js';

/** Options every way of making a Model takes. */
export interface ModelOptions {
  /** CPU threads for this model's kernels and BLAS calls (default: all cores). */
  threads?: number;
  /**
   * Where the weights live and the model computes (default 'cpu'). 'cuda' (or 'cuda:N') needs
   * an engine built with CUDA (see engineBackends()) and a GPU; otherwise creating the model
   * fails with an INVALID_STATE EngineError.
   */
  device?: 'cpu' | 'cuda' | `cuda:${number}`;
}

/** Inputs of a forward pass, one row per sequence, all rows of the same length. */
export interface ForwardInputs {
  inputIds: readonly (readonly number[])[];
  /** 1 for tokens, 0 for padding (default all ones). */
  attentionMask?: readonly (readonly number[])[];
  /** Default: the number of unmasked tokens before each position (left padding works). */
  positionIds?: readonly (readonly number[])[];
}

/** Logits [B, T, V] of a forward pass; rows at masked positions hold unspecified values. */
export interface Logits {
  data: Float32Array;
  B: number;
  T: number;
  V: number;
}

/** Log-prob of a response given its prompt: summed, per token, and the token count. */
export interface SequenceLogProb {
  sum: number;
  /** sum / tokens (NaN for an empty response, which has no per-token log-prob). */
  mean: number;
  tokens: number;
}

/** Hugging Face initialisation scale for random weights. */
export const defaultInitStd = 0.02;

/** A Llama-family decoder in native memory. Calls on one model run one at a time. */
export class Model {
  /** @internal */ readonly handle: NativeModel;
  readonly config: ModelConfig;
  /** The config.json object it came from (or was made for); saving writes it back. */
  readonly hfConfig: Record<string, unknown>;
  private readonly table: NativeParam[];

  private constructor(
    config: ModelConfig,
    hfConfig: Record<string, unknown>,
    options: ModelOptions,
  ) {
    this.config = config;
    this.hfConfig = hfConfig;
    try {
      const threads = options.threads ?? availableParallelism();
      this.handle = new (native().NativeModel)(nativeConfig(config), threads, options.device);
    } catch (err) {
      throw toEngineError(err, 'creating the model');
    }
    this.table = this.handle.paramTable();
  }

  /** Loads a Hugging Face folder (config.json + model.safetensors or a sharded index). */
  static async load(dir: string, options: ModelOptions = {}): Promise<Model> {
    const ckpt = await openHfCheckpoint(dir);
    const model = new Model(ckpt.config, ckpt.rawConfig, options);
    const expected = new Set(model.table.map((p) => p.name));
    for (const name of ckpt.tensorFile.keys()) {
      const ignorable = name.endsWith('.rotary_emb.inv_freq') ||
        (name === 'lm_head.weight' && ckpt.config.tieWordEmbeddings);
      if (!expected.has(name) && !ignorable) {
        throw new EngineError(
          'INVALID_MODEL',
          `${dir}: unexpected tensor "${name}"; config.json does not describe these weights`,
        );
      }
    }
    for (const p of model.table) {
      const file = ckpt.tensorFile.get(p.name);
      if (!file) throw new EngineError('INVALID_MODEL', `${dir}: tensor "${p.name}" is missing`);
      const shape = file.tensors.get(p.name)!.shape;
      if (shape.join(',') !== p.shape.join(',')) {
        throw new EngineError(
          'INVALID_MODEL',
          `${file.path}: tensor "${p.name}" has shape [${shape}], config.json implies ` +
            `[${p.shape}]`,
        );
      }
      model.writeParameter(p.name, await readTensor(file, p.name));
    }
    return model;
  }

  /** A model with Hugging Face-style random weights; the same seed gives the same weights. */
  static random(
    config: ModelConfig,
    options: ModelOptions & { seed: number; initStd?: number },
  ): Model {
    const model = new Model(config, toHfConfig(config), options);
    try {
      model.handle.initRandom(options.seed, options.initStd ?? defaultInitStd);
    } catch (err) {
      throw toEngineError(err, 'initialising the model');
    }
    return model;
  }

  /** Loads a llama2.c .bin checkpoint (such as stories260K), converting its RoPE layout. */
  static async fromLlama2c(file: string, options: ModelOptions = {}): Promise<Model> {
    const ckpt = await readLlama2c(file);
    const model = new Model(ckpt.config, toHfConfig(ckpt.config), options);
    for (const t of ckpt.tensors) model.writeParameter(t.name, t.data);
    return model;
  }

  /** Parameter names and shapes, in Hugging Face naming and checkpoint order. */
  parameters(): readonly NativeParam[] {
    return this.table;
  }

  /** Total number of parameters (tied embeddings counted once). */
  get numParameters(): number {
    return this.table.reduce((a, p) => a + p.size, 0);
  }

  private entry(name: string): NativeParam {
    const p = this.table.find((t) => t.name === name);
    if (!p) throw new EngineError('INVALID_ARGUMENT', `the model has no parameter "${name}"`);
    return p;
  }

  /** A copy of one parameter tensor. */
  readParameter(name: string): Float32Array {
    const out = new Float32Array(this.entry(name).size);
    try {
      this.handle.readParam(name, out);
    } catch (err) {
      throw toEngineError(err, `reading ${name}`);
    }
    return out;
  }

  /** Overwrites one parameter tensor; the length must match its shape. */
  writeParameter(name: string, data: Float32Array): void {
    const p = this.entry(name);
    if (data.length !== p.size) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${name} holds ${p.size} values, got ${data.length}`,
      );
    }
    try {
      this.handle.writeParam(name, data);
    } catch (err) {
      throw toEngineError(err, `writing ${name}`);
    }
  }

  /** Changes the CPU thread count (results stay deterministic for a given count). */
  setThreads(threads: number): void {
    this.handle.setThreads(threads);
  }

  /** Saves config.json and the weights as a Hugging Face folder (float32 by default). */
  async save(dir: string, options: HfSaveOptions = {}): Promise<void> {
    const tensors: TensorToWrite[] = this.table.map((p) => ({
      name: p.name, shape: p.shape, data: this.readParameter(p.name),
    }));
    await writeHfCheckpoint(dir, this.hfConfig, tensors, options);
  }

  /** SHA-256 of the config and every weight: names the exact model in cache keys. */
  digest(): string {
    const h = createHash('sha256');
    h.update(JSON.stringify(nativeConfig(this.config)));
    for (const p of this.table) {
      h.update(p.name);
      const d = this.readParameter(p.name);
      h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    return h.digest('hex');
  }

  /** Forward logits for a batch (for parity checks and evaluation). */
  async logits(inputs: ForwardInputs): Promise<Logits> {
    const batch = packInputs(inputs.inputIds, inputs.attentionMask, inputs.positionIds);
    const V = this.config.vocabSize;
    const data = new Float32Array(batch.B * batch.T * V);
    try {
      await this.handle.logits(batch, data);
    } catch (err) {
      throw toEngineError(err, 'forward');
    }
    return { data, B: batch.B, T: batch.T, V };
  }

  /**
   * Summed log-probs of each response given its prompt, `batchSize` sequences per forward.
   * Padding options exist to show they do not matter; the defaults are fine.
   */
  async sequenceLogProbs(
    seqs: readonly ScoredSequence[],
    options: { batchSize?: number; maxLength?: number } & Partial<PaddingOptions> = {},
  ): Promise<SequenceLogProb[]> {
    const size = options.batchSize ?? 8;
    const padding = { padSide: options.padSide ?? 'right', padId: options.padId ?? 0 };
    const out: SequenceLogProb[] = [];
    for (let i = 0; i < seqs.length; i += size) {
      const chunk = seqs.slice(i, i + size);
      const batch = packSequences(chunk, this.config.vocabSize, padding,
        options.maxLength ?? Number.MAX_SAFE_INTEGER, (k) => `sequence ${i + k}`);
      const sums = new Float64Array(batch.B);
      const counts = new Int32Array(batch.B);
      try {
        await this.handle.sequenceLogProbs(batch, sums, counts);
      } catch (err) {
        throw toEngineError(err, 'sequence log-probs');
      }
      for (let b = 0; b < batch.B; b++) {
        out.push({ sum: sums[b]!, mean: sums[b]! / counts[b]!, tokens: counts[b]! });
      }
    }
    return out;
  }
}
