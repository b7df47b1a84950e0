// Reads JSON Lines files with their line numbers, keeping malformed lines as findings rather
// than dropping them. It does not interpret the rows; each task validates its own fields.
import { readFile } from 'node:fs/promises';

import { EvalError } from './errors.js';

/** One parsed line and where it came from, so later checks can name the line at fault. */
export interface JsonlRow {
  line: number;
  value: Record<string, unknown>;
}

/** A line that is not a JSON object: kept so it can be counted and reported, never lost. */
export interface MalformedLine {
  line: number;
  reason: string;
}

/** The content of a JSONL file: good rows and bad lines, in file order. */
export interface JsonlFile {
  file: string;
  rows: JsonlRow[];
  malformed: MalformedLine[];
}

/** Parses JSONL text; blank lines are skipped, anything else that is not an object is malformed. */
export function parseJsonl(text: string, file: string): JsonlFile {
  const rows: JsonlRow[] = [];
  const malformed: MalformedLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(raw);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        malformed.push({ line: i + 1, reason: 'not a JSON object' });
      } else {
        rows.push({ line: i + 1, value: value as Record<string, unknown> });
      }
    } catch (err) {
      malformed.push({ line: i + 1, reason: (err as Error).message });
    }
  }
  return { file, rows, malformed };
}

/** Reads and parses a JSONL file; a missing file is NOT_FOUND naming the path. */
export async function readJsonl(file: string): Promise<JsonlFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
    throw new EvalError(code, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseJsonl(text, file);
}

/** Throws INVALID_ARGUMENT for the first malformed line; for inputs where none is acceptable. */
export function requireWellFormed(parsed: JsonlFile): JsonlRow[] {
  const bad = parsed.malformed[0];
  if (bad) {
    const more = parsed.malformed.length > 1 ? ` (${parsed.malformed.length} bad lines)` : '';
    throw new EvalError('INVALID_ARGUMENT', `malformed JSON: ${bad.reason}${more}`, {
      location: { file: parsed.file, line: bad.line },
    });
  }
  return parsed.rows;
}

/** Reads a required string field of a row, failing with the file, line and field name. */
export function stringField(row: JsonlRow, field: string, file: string): string {
  const value = row.value[field];
  if (typeof value !== 'string') {
    throw new EvalError('INVALID_ARGUMENT', `expected a string, got ${describe(value)}`, {
      location: { file, line: row.line, field },
    });
  }
  return value;
}

/** Names a JSON value's type for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `a string` : typeof value;
}
