// @delta/lm: Hugging Face model folders (config, tokenizer, chat template, safetensors), export
// of Llama-family checkpoints to ONNX, and batched decoding on ONNX Runtime.
export { LmError, type LmErrorCode } from './errors.js';
export {
  parseDecoderConfig,
  ropeInverseFrequencies,
  type DecoderConfig,
  type ModelType,
  type RopeScaling,
} from './config.js';
export {
  SafetensorsCheckpoint,
  writeSafetensors,
  halfToFloat,
  type FloatTensor,
  type NamedTensor,
  type SafetensorsDtype,
  type TensorInfo,
} from './safetensors.js';
export { hashedUniform, randomDecoderWeights, writeRandomCheckpoint } from './random-checkpoint.js';
export { convertLlama2c, type Llama2cHeader } from './llama2c.js';
export { exportOnnx, readDecoderConfig, type ExportOptions, type ExportResult } from './export.js';
export { OPSET } from './onnx/decoder-graph.js';
export { TextTokenizer, tokenContent, type ChatMessage } from './tokenizer.js';
export { loadModelFiles, type GenerationDefaults, type ModelFiles } from './model-files.js';
export { SeededRng, argmax, sampleToken, type SamplingParams } from './sampling.js';
export { ResponseText } from './stop.js';
export {
  OnnxDecoder,
  cudaProviderInstalled,
  type ExecutionProvider,
  type KvCache,
  type RuntimeOptions,
} from './runtime.js';
export type {
  DecodeStats,
  FinishReason,
  GenerationResult,
  LogLikelihoodResult,
  TokenEvent,
} from './generate.js';
export {
  LanguageModel,
  type GenerateOptions,
  type GenerationRequest,
  type LoadOptions,
  type LogLikelihoodRequest,
  type PromptInput,
} from './language-model.js';
export {
  GSM8K_MAPPING,
  iteratePromptsJsonl,
  readPromptsJsonl,
  type PromptMapping,
  type PromptRecord,
  type RejectedLine,
} from './prompts.js';
