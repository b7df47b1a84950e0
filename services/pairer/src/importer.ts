// Reads existing response sets from JSONL into Response records, so they are paired like any
// generator's output. Two formats: OpenAI's GSM8K model solutions (several models' answers per
// line) and one Response per line in protobuf JSON. It only parses; writing them to the
// responses topic, exactly once, is the job's business.
import { stat, readFile } from 'node:fs/promises';
import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { FinishReason, ResponseSchema, type Response } from '@delta/contracts';
import { parseJsonl, type JsonlRow } from '@delta/evals';
import { Code, RpcError } from '@delta/rpc';

/** Formats ResponseImport.format may name. */
export const IMPORT_FORMATS = ['gsm8k-model-solutions', 'responses'] as const;

const FIELD = 'spec.import.file';

function bad(file: string, line: number, problem: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `${FIELD}: ${file} line ${line}: ${problem}`);
}

/**
 * One line of gsm8k/model_solutions.jsonl: {"id", "question", "answer", "responses": {model:
 * text}}. Each model's answer becomes a Response to a one-turn prompt, with the worked solution
 * as reference.
 */
function fromModelSolutions(row: JsonlRow, file: string, runId: string): Response[] {
  const { id, question, answer, responses } = row.value;
  if (typeof id !== 'string' || !id) throw bad(file, row.line, 'field "id": expected a string');
  if (typeof question !== 'string') {
    throw bad(file, row.line, 'field "question": expected a string');
  }
  if (answer !== undefined && typeof answer !== 'string') {
    throw bad(file, row.line, 'field "answer": expected a string');
  }
  if (!responses || typeof responses !== 'object' || Array.isArray(responses)) {
    throw bad(file, row.line, 'field "responses": expected an object of model name -> text');
  }
  return Object.entries(responses as Record<string, unknown>).map(([model, text]) => {
    if (typeof text !== 'string') {
      throw bad(file, row.line, `field "responses.${model}": expected a string`);
    }
    return create(ResponseSchema, {
      runId,
      promptId: id,
      model,
      sampleIndex: 0,
      prompt: [{ role: 'user', content: question }],
      text,
      finishReason: FinishReason.STOP,
      task: 'gsm8k',
      reference: answer ?? '',
    });
  });
}

/** One Response in protobuf JSON per line; its run id is replaced by the job's. */
function fromResponseJson(row: JsonlRow, file: string, runId: string): Response[] {
  let response: Response;
  try {
    response = fromJson(ResponseSchema, row.value as JsonValue);
  } catch (err) {
    throw bad(file, row.line, `not a delta.v1.Response: ${(err as Error).message}`);
  }
  if (!response.promptId) throw bad(file, row.line, 'field "prompt_id": required');
  if (!response.model) throw bad(file, row.line, 'field "model": required');
  response.runId = runId;
  return [response];
}

/**
 * Reads an import file into Responses of run `runId`, in file order (the order is what a
 * resumed import counts on). Any bad line fails the whole import, naming the line.
 */
export async function readImport(
  file: string,
  format: string,
  runId: string,
  maxBytes: number,
): Promise<Response[]> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > maxBytes) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED,
        `${FIELD}: ${file} is ${size} bytes, above the limit ${maxBytes} ` +
        '(DELTA_PAIRER_IMPORT_MAX_BYTES)');
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof RpcError) throw err;
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new RpcError(missing ? Code.NOT_FOUND : Code.FAILED_PRECONDITION,
      `${FIELD}: cannot read ${file}: ${(err as Error).message}`, err);
  }

  const parsed = parseJsonl(text, file);
  const first = parsed.malformed[0];
  if (first) throw bad(file, first.line, `not a JSON object (${first.reason})`);
  const convert = format === 'gsm8k-model-solutions' ? fromModelSolutions : fromResponseJson;
  return parsed.rows.flatMap((row) => convert(row, file, runId));
}
