// Reads prompt files in JSON Lines: `{"id","prompt"}` or `{"id","messages":[...]}` per line, or
// another shape through a field mapping (GSM8K's `{"question","answer"}`), with optional "task",
// "reference" and "metadata" carried along. A bad line is reported with its number and reason
// and the rest are still read; blank lines are not records.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LmError } from './errors.js';
import type { ChatMessage } from './tokenizer.js';

/** A prompt ready for generation, with the line it came from. */
export interface PromptRecord {
  id: string;
  messages: ChatMessage[];
  line: number;
  /** The line's "task" field, when it has one, so a scorer can be found downstream. */
  task?: string;
  /** The line's "reference" answer (a number is kept as its text), for verifiers. */
  reference?: string;
  /** The line's "metadata" object, values as text, carried through unchanged. */
  metadata?: Record<string, string>;
}

/** A line that is not a usable prompt, and why. */
export interface RejectedLine {
  line: number;
  reason: string;
}

/** How to read a shape other than the default one. */
export interface PromptMapping {
  /** Field holding the user's prompt text (default "prompt"). */
  promptField?: string;
  /** Field holding the id (default "id"). */
  idField?: string;
  /** When a record has no id, `idPrefix + index` (0-based count of records) becomes its id. */
  idPrefix?: string;
  /**
   * Longest line read as a record, in characters (default 1,000,000, far past any model's
   * context); a longer line is rejected before it is parsed or tokenized.
   */
  maxLineChars?: number;
}

const MAX_LINE_CHARS = 1_000_000;

/** GSM8K's test.jsonl: the question is the prompt; ids match model_solutions.jsonl's. */
export const GSM8K_MAPPING: PromptMapping = { promptField: 'question', idPrefix: 'gsm8k-test-' };

const ROLES = new Set(['system', 'user', 'assistant']);

type Extras = Pick<PromptRecord, 'task' | 'reference' | 'metadata'>;

/** The optional fields a line may carry beside its prompt, or why they are unusable. */
function parseExtras(rec: Record<string, unknown>): Extras | string {
  const extras: Extras = {};
  const task = rec['task'];
  if (task !== undefined) {
    if (typeof task !== 'string') return 'field "task" must be a string';
    extras.task = task;
  }
  const reference = rec['reference'];
  if (reference !== undefined) {
    if (typeof reference === 'string') extras.reference = reference;
    else if (typeof reference === 'number' && Number.isFinite(reference))
      extras.reference = String(reference);
    else return 'field "reference" must be a string or a number';
  }
  const metadata = rec['metadata'];
  if (metadata !== undefined) {
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata))
      return 'field "metadata" must be an object';
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(metadata)) {
      if (typeof v === 'string') out[key] = v;
      else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean')
        out[key] = String(v);
      else return `metadata.${key} must be a string, a number or a boolean`;
    }
    extras.metadata = out;
  }
  return extras;
}

function parseRecord(
  value: unknown,
  index: number,
  mapping: PromptMapping,
): Omit<PromptRecord, 'line'> | string {
  const parsed = parsePrompt(value, index, mapping);
  if (typeof parsed === 'string') return parsed;
  const extras = parseExtras(value as Record<string, unknown>);
  return typeof extras === 'string' ? extras : { ...parsed, ...extras };
}

function parsePrompt(
  value: unknown,
  index: number,
  mapping: PromptMapping,
): Omit<PromptRecord, 'line'> | string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const rec = value as Record<string, unknown>;
  const idField = mapping.idField ?? 'id';
  const promptField = mapping.promptField ?? 'prompt';

  let id: string;
  const rawId = rec[idField];
  if (typeof rawId === 'string' && rawId.length > 0) id = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) id = String(rawId);
  else if (rawId === undefined && mapping.idPrefix !== undefined)
    id = `${mapping.idPrefix}${index}`;
  else return `field "${idField}" must be a non-empty string or a number`;

  const hasPrompt = rec[promptField] !== undefined;
  const hasMessages = rec['messages'] !== undefined;
  if (hasPrompt && hasMessages) return `has both "${promptField}" and "messages"; keep one`;
  if (hasPrompt) {
    const text = rec[promptField];
    if (typeof text !== 'string' || text.trim().length === 0)
      return `field "${promptField}" must be a non-empty string`;
    return { id, messages: [{ role: 'user', content: text }] };
  }
  if (hasMessages) {
    const messages = rec['messages'];
    if (!Array.isArray(messages) || messages.length === 0)
      return 'field "messages" must be a non-empty array';
    for (const [i, m] of messages.entries()) {
      const msg = m as Record<string, unknown> | null;
      if (
        !msg ||
        typeof msg !== 'object' ||
        !ROLES.has(msg['role'] as string) ||
        typeof msg['content'] !== 'string'
      ) {
        return `messages[${i}] must be {"role": "system"|"user"|"assistant", "content": string}`;
      }
    }
    return {
      id,
      messages: (messages as ChatMessage[]).map((m) => ({ role: m.role, content: m.content })),
    };
  }
  return `needs "${promptField}" or "messages"`;
}

/**
 * Streams the prompts of a JSONL file: each line yields a record or a rejection, in file order.
 * Duplicate ids are rejected (the first one wins), since records are keyed by prompt id.
 */
export async function* iteratePromptsJsonl(
  path: string,
  mapping: PromptMapping = {},
): AsyncGenerator<{ prompt: PromptRecord } | { rejected: RejectedLine }> {
  if (!existsSync(path)) throw new LmError('PROMPT_FILE_INVALID', `prompt file ${path} not found`);
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  const seen = new Map<string, number>();
  let lineNo = 0;
  let index = 0;
  for await (const text of lines) {
    lineNo++;
    if (text.trim().length === 0) continue;
    const maxChars = mapping.maxLineChars ?? MAX_LINE_CHARS;
    if (text.length > maxChars) {
      yield { rejected: { line: lineNo, reason: `line ${lineNo}: ${text.length} characters; ` +
        `a prompt line may have at most ${maxChars}` } };
      index++;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      yield {
        rejected: {
          line: lineNo,
          reason: `line ${lineNo}: not valid JSON (${(cause as Error).message})`,
        },
      };
      index++;
      continue;
    }
    const parsed = parseRecord(value, index++, mapping);
    if (typeof parsed === 'string') {
      yield { rejected: { line: lineNo, reason: `line ${lineNo}: ${parsed}` } };
      continue;
    }
    const first = seen.get(parsed.id);
    if (first !== undefined) {
      yield {
        rejected: {
          line: lineNo,
          reason: `line ${lineNo}: duplicate id ${parsed.id} (first on line ${first})`,
        },
      };
      continue;
    }
    seen.set(parsed.id, lineNo);
    yield { prompt: { ...parsed, line: lineNo } };
  }
}

/** Reads a whole prompt file: the good prompts and, beside them, every rejected line. */
export async function readPromptsJsonl(
  path: string,
  mapping: PromptMapping = {},
): Promise<{ prompts: PromptRecord[]; rejected: RejectedLine[] }> {
  const prompts: PromptRecord[] = [];
  const rejected: RejectedLine[] = [];
  for await (const item of iteratePromptsJsonl(path, mapping)) {
    if ('prompt' in item) prompts.push(item.prompt);
    else rejected.push(item.rejected);
  }
  return { prompts, rejected };
}
