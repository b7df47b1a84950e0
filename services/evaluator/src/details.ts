// The details file of an evaluation: one JSON line per item (task, prompt messages, response,
// verdict). A task's lines are appended together once the task has ended, so a job resumed
// after a crash drops the lines of tasks it has no result for and writes them again: every
// item appears once. It does not stream lines while a task runs.
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ItemRecord } from '@delta/evals';

/** One line of the details file, with snake_case keys as in the contracts. */
export interface DetailLine {
  task: string;
  id: string;
  /** Line of the item in its data file. */
  line: number;
  messages: ItemRecord['messages'];
  response?: string;
  finish_reason?: string;
  score: number;
  detail: Record<string, unknown>;
}

/** The lines of one task's items, as written. */
export function detailLines(task: string, items: readonly ItemRecord[]): DetailLine[] {
  return items.map((item) => ({
    task,
    id: item.id,
    line: item.line,
    messages: item.messages,
    ...(item.response !== undefined ? { response: item.response } : {}),
    ...(item.finishReason !== undefined ? { finish_reason: item.finishReason } : {}),
    score: item.score,
    detail: item.detail,
  }));
}

function taskOf(line: string): string | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' ? (value as { task?: string }).task : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Readies the file for a job: empties it for a fresh job; for a resumed one keeps only the
 * whole lines of `finished` tasks (a line cut short by a crash is dropped too).
 */
export async function openDetails(
  file: string,
  finished: ReadonlySet<string> | null,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  let kept = '';
  if (finished) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((line) => {
      const task = line && taskOf(line);
      return task !== undefined && task !== '' && finished.has(task);
    });
    kept = lines.map((line) => `${line}\n`).join('');
  }
  const temp = `${file}.tmp`;
  await writeFile(temp, kept);
  await rename(temp, file);
}

/** Appends one ended task's lines. */
export async function appendDetails(
  file: string,
  task: string,
  items: readonly ItemRecord[],
): Promise<void> {
  const text = detailLines(task, items).map((l) => `${JSON.stringify(l)}\n`).join('');
  await appendFile(file, text);
}
