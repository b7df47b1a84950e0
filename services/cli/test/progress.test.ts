// Progress for a person: off a terminal, one plain line per change of a stage or of a job's
// state (counts alone print nothing); on a terminal, bars redrawn in place.
import { describe, expect, it } from 'vitest';

import { createProgress } from '../src/progress/progress.js';
import type { JobEntry } from '../src/run/state.js';

function job(state: string, done: number, total: number, stage: string): JobEntry {
  return { service: 'trainer', jobId: 'j', attempt: 1, state,
    progress: { done, total, unit: 'steps', stage } };
}

describe('progress off a terminal', () => {
  it('prints a line per change of stage or state, with the stage time', () => {
    const lines: string[] = [];
    let now = 1_000;
    const sink = createProgress({ write: (t) => lines.push(t), isTty: false, now: () => now });
    sink.stage('train', 'running');
    sink.job('train', 'dpo', job('RUNNING', 0, 8, 'training'));
    sink.job('train', 'dpo', job('RUNNING', 3, 8, 'training'));
    sink.job('train', 'dpo', job('RUNNING', 8, 8, 'exporting the tuned model'));
    sink.job('train', 'dpo', { ...job('FAILED', 8, 8, 'failed'),
      error: { code: 'INTERNAL', message: 'step 8: loss is NaN' } });
    now += 75_000;
    sink.stage('train', 'failed', 'one job failed');
    expect(lines.join('')).toBe([
      'train: running',
      'train dpo: running 0/8 steps (training)',
      'train dpo: running 8/8 steps (exporting the tuned model)',
      'train dpo: failed 8/8 steps: INTERNAL step 8: loss is NaN',
      'train: failed - one job failed',
      '',
    ].join('\n'));
  });
});

describe('progress on a terminal', () => {
  it('draws a bar per job and replaces the block with a summary when the stage ends', async () => {
    let out = '';
    let now = 0;
    const sink = createProgress({ write: (t) => { out += t; }, isTty: true, columns: 100,
      now: () => now });
    sink.stage('generate', 'running');
    sink.job('generate', 'strong', { state: 'RUNNING',
      progress: { done: 12, total: 24, unit: 'prompts', stage: 'generating' } });
    await new Promise((r) => setTimeout(r, 150));
    expect(out).toContain(
      '  strong [############------------]  50% running 12/24 prompts (generating)');
    now = 42_000;
    sink.stage('generate', 'done', '24 responses');
    sink.close();
    // The block is erased (cursor up, clear to the end) before the summary line is printed.
    expect(out.endsWith('\x1b[2A\x1b[0J✓ generate done in 42 s - 24 responses\n')).toBe(true);
  });
});
