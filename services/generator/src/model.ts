// Opens the model a job names, turning every way a model folder can be unusable into an
// RpcError that names the file at fault and what to do about it. It does not cache models:
// each job loads its model and releases it when it ends.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { LanguageModel, LmError, type ExecutionProvider } from '@delta/lm';
import { Code, RpcError } from '@delta/rpc';

/** How the service runs models, from its environment. */
export interface ModelOptions {
  /** ONNX Runtime intra-op threads; 0 lets it choose. */
  threads: number;
  device: ExecutionProvider;
}

/**
 * Checks that `dir` is a model folder the generator can serve: NOT_FOUND when the folder is
 * missing, FAILED_PRECONDITION when config.json or onnx/model.onnx is. `field` names the
 * request field in the message ("spec.model").
 */
export function checkModelFolder(dir: string, field: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RpcError(Code.NOT_FOUND, `${field}: model folder ${dir} not found`);
  }
  if (!existsSync(path.join(dir, 'onnx', 'model.onnx'))) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${field}: onnx/model.onnx not found in ${dir}; export it first ` +
        '(exportOnnx from @delta/lm, or a training job with ONNX export on)',
    );
  }
  if (!existsSync(path.join(dir, 'config.json'))) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${field}: config.json not found in ${dir}; a model folder needs the Hugging Face layout`,
    );
  }
}

/** Loads a model folder for generation; failures are FAILED_PRECONDITION with the file named. */
export async function loadModel(
  dir: string,
  options: ModelOptions,
  field = 'spec.model',
): Promise<LanguageModel> {
  checkModelFolder(dir, field);
  try {
    return await LanguageModel.load(dir, {
      executionProvider: options.device,
      ...(options.threads > 0 ? { threads: options.threads } : {}),
    });
  } catch (err) {
    if (err instanceof LmError && err.code !== 'CALLBACK_FAILED') {
      throw new RpcError(Code.FAILED_PRECONDITION, `${field}: ${err.message}`, err);
    }
    throw err;
  }
}

/**
 * Checks that the model can turn the job's prompts into tokens: it needs a tokenizer.json, and
 * a chat template unless the prompts are raw text.
 */
export function checkPromptSupport(lm: LanguageModel, rawPrompts: boolean, field = 'spec.model') {
  const tokenizer = lm.files.tokenizer;
  if (!tokenizer) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${field}: ${lm.files.dir} has no tokenizer.json; the generator needs one to read prompts`,
    );
  }
  if (!rawPrompts && !tokenizer.hasChatTemplate) {
    throw new RpcError(
      Code.FAILED_PRECONDITION,
      `${field}: ${lm.files.dir} has no chat template (tokenizer_config.json chat_template or ` +
        'chat_template.jinja); set raw_prompts for a base model',
    );
  }
}
