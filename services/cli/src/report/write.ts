// Writes a run's report into its folder: report.json (every number), report.md and
// report.html. Each file is written whole and renamed into place, so a reader never sees half.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { RunState } from '../run/state.js';
import { reportData } from './data.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';

/** Paths of the report files. */
export interface ReportFiles {
  json: string;
  markdown: string;
  html: string;
}

/** Builds and writes the three report files of a run. */
export async function writeReport(state: RunState, runDir: string): Promise<ReportFiles> {
  const data = reportData(state, runDir);
  const files = {
    json: path.join(runDir, 'report.json'),
    markdown: path.join(runDir, 'report.md'),
    html: path.join(runDir, 'report.html'),
  };
  put(files.json, JSON.stringify(data, null, 2) + '\n');
  put(files.markdown, renderMarkdown(data));
  put(files.html, renderHtml(data));
  return files;
}

function put(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}
