// Reads a file of given responses and matches each line to a task item, by "id" when the line
// has one, else by the prompt or question text. Every line is accounted for: matched,
// malformed or unmatched; a second response to the same item is an error naming both lines.
import { EvalError } from './errors.js';
import { readJsonl, type MalformedLine } from './jsonl.js';
import type { TaskDoc } from './task.js';

/** A response matched to its item. */
export interface MatchedResponse {
  docIndex: number;
  line: number;
  response: string;
}

/** The outcome of reading a responses file against a task's items. */
export interface ResponseMatch {
  file: string;
  matched: MatchedResponse[];
  /** Lines that are not JSON objects, or lack a string "response" or the text field. */
  malformed: MalformedLine[];
  /** Well-formed lines naming no item of the data. */
  unmatched: MalformedLine[];
  /** Items of the data with no response. */
  missing: number;
}

/**
 * Matches response lines (`{"prompt" | "question" | "id", "response"}`) to items. Lines keep
 * their numbers so callers can report them; matched responses come back in item order.
 */
export async function matchResponses(
  file: string,
  docs: readonly TaskDoc[],
  textField: string,
): Promise<ResponseMatch> {
  const parsed = await readJsonl(file);
  const byText = new Map<string, number>();
  const byId = new Map<string, number>();
  docs.forEach((doc, i) => {
    if (!byText.has(doc.text)) byText.set(doc.text, i);
    byId.set(doc.id, i);
  });

  const malformed = [...parsed.malformed];
  const unmatched: MalformedLine[] = [];
  const seen = new Map<number, number>();
  const matched: MatchedResponse[] = [];
  for (const row of parsed.rows) {
    const { response, id } = row.value;
    const text = row.value[textField];
    if (typeof response !== 'string') {
      malformed.push({ line: row.line, reason: 'no string field "response"' });
      continue;
    }
    const key = id === undefined ? undefined : String(id);
    if (key === undefined && typeof text !== 'string') {
      malformed.push({ line: row.line, reason: `no string field "${textField}" or "id"` });
      continue;
    }
    const docIndex = key !== undefined && byId.has(key) ? byId.get(key)
      : typeof text === 'string' ? byText.get(text) : undefined;
    if (docIndex === undefined) {
      unmatched.push({ line: row.line, reason: `no item with this ${key !== undefined ? 'id' : textField}` });
      continue;
    }
    const earlier = seen.get(docIndex);
    if (earlier !== undefined) {
      throw new EvalError('INVALID_ARGUMENT', `second response to the item answered on line ${earlier}`, {
        location: { file, line: row.line },
      });
    }
    seen.set(docIndex, row.line);
    matched.push({ docIndex, line: row.line, response });
  }
  malformed.sort((a, b) => a.line - b.line);
  matched.sort((a, b) => a.docIndex - b.docIndex);
  return { file, matched, malformed, unmatched, missing: docs.length - matched.length };
}
