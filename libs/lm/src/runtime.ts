// Opens onnx/model.onnx of a model folder on ONNX Runtime (onnxruntime-node) and runs one
// decoder step: new tokens in, logits and the grown KV cache out. It chooses the execution
// provider; it does not sample, batch or stop (see generate.ts).
//
// Shapes: B batch, S new tokens, T total tokens, K key/value heads, D head dim, V vocabulary.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { LmError } from './errors.js';
import { halfToFloat } from './safetensors.js';

/** Where the model runs: 'auto' takes CUDA when its provider library is installed. */
export type ExecutionProvider = 'auto' | 'cpu' | 'cuda';

/** Options of `OnnxDecoder.open`. */
export interface RuntimeOptions {
  /** Intra-op threads; default: ONNX Runtime's choice (all cores). */
  threads?: number;
  executionProvider?: ExecutionProvider;
}

/** The KV cache of a batch: one [B, K, T, D] tensor per layer for keys and for values. */
export interface KvCache {
  batch: number;
  length: number;
  keys: Float32Array[];
  values: Float32Array[];
}

/** One step's output: logits [B, S, V] (float32) and the cache grown by S tokens. */
export interface StepOutput {
  logits: Float32Array;
  cache: KvCache;
}

const require = createRequire(import.meta.url);

/**
 * True when onnxruntime-node lists CUDA and its provider library is on disk. The library is
 * not bundled: the package's install script would download it, and that script is not approved
 * in this workspace, so only a user who installed it on purpose gets CUDA.
 */
export function cudaProviderInstalled(): boolean {
  const listed = ort.listSupportedBackends?.().some((b) => b.name === 'cuda') ?? false;
  if (!listed) return false;
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  const lib = join(
    pkg,
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
    'libonnxruntime_providers_cuda.so',
  );
  return existsSync(lib);
}

/**
 * An ONNX decoder-with-past session. Reads the cache geometry from the graph's
 * past_key_values inputs and fails at load when they are missing, so a model without a KV
 * cache is never decoded by recomputing the whole sequence unnoticed.
 */
export class OnnxDecoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    readonly vocabSize: number,
    readonly executionProvider: 'cpu' | 'cuda',
    private readonly hasPositionIds: boolean,
    private readonly hasCacheBranch: boolean,
  ) {}

  /** Opens `<dir>/onnx/model.onnx`; `config` supplies sizes the graph leaves symbolic. */
  static async open(
    dir: string,
    config: Record<string, unknown>,
    options: RuntimeOptions = {},
  ): Promise<OnnxDecoder> {
    const modelPath = join(dir, 'onnx', 'model.onnx');
    if (!existsSync(modelPath)) {
      throw new LmError(
        'MODEL_FILE_MISSING',
        `onnx/model.onnx not found in ${dir}; export the checkpoint first (exportOnnx)`,
      );
    }
    const wanted = options.executionProvider ?? 'auto';
    const cuda = wanted === 'cuda' || (wanted === 'auto' && cudaProviderInstalled());
    if (wanted === 'cuda' && !cudaProviderInstalled()) {
      throw new LmError(
        'RUNTIME_FAILED',
        'the CUDA execution provider library of onnxruntime-node is not installed',
      );
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        executionProviders: cuda ? ['cuda', 'cpu'] : ['cpu'],
        graphOptimizationLevel: 'all',
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      });
    } catch (cause) {
      throw new LmError(
        'MODEL_FILE_INVALID',
        `ONNX Runtime could not load ${modelPath}: ${String(cause)}`,
        { cause },
      );
    }

    const inputs = new Set(session.inputNames);
    for (const name of ['input_ids', 'attention_mask']) {
      if (!inputs.has(name))
        throw new LmError('UNSUPPORTED_MODEL', `${modelPath} has no ${name} input`);
    }
    let numLayers = 0;
    while (inputs.has(`past_key_values.${numLayers}.key`)) numLayers++;
    if (numLayers === 0 || !session.outputNames.includes('present.0.key')) {
      throw new LmError(
        'UNSUPPORTED_MODEL',
        `${modelPath} has no past_key_values inputs / present outputs; export it with a KV cache`,
      );
    }

    const meta = (session.inputMetadata as readonly ort.InferenceSession.ValueMetadata[]).find(
      (m) => m.name === 'past_key_values.0.key',
    );
    const dims = meta && meta.isTensor ? meta.shape : [];
    const heads = Number(config['num_attention_heads']);
    const kvHeads =
      typeof dims[1] === 'number' ? dims[1] : Number(config['num_key_value_heads'] ?? heads);
    const headDim =
      typeof dims[3] === 'number'
        ? dims[3]
        : Number(config['head_dim'] ?? Number(config['hidden_size']) / heads);
    const logitsMeta = (
      session.outputMetadata as readonly ort.InferenceSession.ValueMetadata[]
    ).find((m) => m.name === 'logits');
    const vocabDim = logitsMeta && logitsMeta.isTensor ? logitsMeta.shape[2] : undefined;
    const vocab = typeof vocabDim === 'number' ? vocabDim : Number(config['vocab_size']);
    if (meta?.isTensor && meta.type !== 'float32') {
      throw new LmError(
        'UNSUPPORTED_MODEL',
        `${modelPath}: KV cache of type ${meta.type}; only float32 is served`,
      );
    }
    for (const [n, v] of [
      ['key/value heads', kvHeads],
      ['head dim', headDim],
      ['vocabulary', vocab],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new LmError(
          'MODEL_FILE_INVALID',
          `${modelPath}: cannot tell the model's ${n} from the graph or config.json`,
        );
      }
    }
    return new OnnxDecoder(
      session,
      numLayers,
      kvHeads,
      headDim,
      vocab,
      cuda ? 'cuda' : 'cpu',
      inputs.has('position_ids'),
      inputs.has('use_cache_branch'),
    );
  }

  /** An empty cache for `batch` rows. */
  emptyCache(batch: number): KvCache {
    const none = (): Float32Array[] =>
      Array.from({ length: this.numLayers }, () => new Float32Array(0));
    return { batch, length: 0, keys: none(), values: none() };
  }

  /**
   * Runs S new tokens per row. `attentionMask` covers cache + new tokens ([B, T]);
   * `positionIds` gives each new token's position ([B, S]).
   */
  async step(
    inputIds: BigInt64Array,
    attentionMask: BigInt64Array,
    positionIds: BigInt64Array,
    cache: KvCache,
  ): Promise<StepOutput> {
    const B = cache.batch;
    const S = inputIds.length / B;
    const T = cache.length + S;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, [B, S]),
      attention_mask: new ort.Tensor('int64', attentionMask, [B, T]),
    };
    if (this.hasPositionIds) feeds['position_ids'] = new ort.Tensor('int64', positionIds, [B, S]);
    if (this.hasCacheBranch)
      feeds['use_cache_branch'] = new ort.Tensor('bool', [cache.length > 0], [1]);
    const kvDims = [B, this.numKvHeads, cache.length, this.headDim];
    for (let l = 0; l < this.numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = new ort.Tensor('float32', cache.keys[l]!, kvDims);
      feeds[`past_key_values.${l}.value`] = new ort.Tensor('float32', cache.values[l]!, kvDims);
    }

    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds);
    } catch (cause) {
      throw new LmError(
        'RUNTIME_FAILED',
        `ONNX Runtime failed on a step of ${B}x${S} tokens: ${String(cause)}`,
        { cause },
      );
    }
    const next: KvCache = { batch: B, length: T, keys: [], values: [] };
    for (let l = 0; l < this.numLayers; l++) {
      next.keys.push(out[`present.${l}.key`]!.data as Float32Array);
      next.values.push(out[`present.${l}.value`]!.data as Float32Array);
    }
    const logits = out['logits']!;
    const data =
      logits.type === 'float16'
        ? Float32Array.from(logits.data as Uint16Array, halfToFloat)
        : (logits.data as Float32Array);
    return { logits: data, cache: next };
  }

  /**
   * Keeps the rows `rows` of a cache and drops its first `dropColumns` time steps (columns that
   * are padding in every kept row), so finished responses stop costing compute.
   */
  compact(cache: KvCache, rows: readonly number[], dropColumns: number): KvCache {
    const K = this.numKvHeads;
    const D = this.headDim;
    const T = cache.length;
    const newT = T - dropColumns;
    const pick = (src: Float32Array): Float32Array => {
      const dst = new Float32Array(rows.length * K * newT * D);
      rows.forEach((row, b) => {
        for (let k = 0; k < K; k++) {
          const from = ((row * K + k) * T + dropColumns) * D;
          dst.set(src.subarray(from, from + newT * D), (b * K + k) * newT * D);
        }
      });
      return dst;
    };
    return {
      batch: rows.length,
      length: newT,
      keys: cache.keys.map(pick),
      values: cache.values.map(pick),
    };
  }

  /** Releases the native session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
