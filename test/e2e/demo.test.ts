// The built-in demo as `npm run demo` runs it: examples/demo.yaml with the @delta/world ladder
// built from seed 0 (three Llamas trained on the engine, about a minute), generation, pairing,
// six training runs, evaluation and the report, on a stack of real processes. Floating-point
// sums differ a little between CPUs (BLAS kernels), so the test checks the findings the demo
// reports with wide margins rather than golden numbers: the ladder's order, SFT on the chosen
// answers hurting the student more than DPO on the same pairs, and the format experiment's
// DPO student writing more sections than either teacher while SFT stays near the chosen one.
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDelta, testFolder, type Result } from './cli.js';

let work: string;
let env: Record<string, string | undefined>;

function delta(...args: string[]): Promise<Result> {
  return runDelta(args, { cwd: work, env });
}

interface Cell { value: number; ciLow: number; ciHigh: number }
interface Report {
  deltaTable: { rows: { model: string; cells: (Cell | null)[] }[] };
  comparisons: { claim: string; diff: number; ciLow: number; ciHigh: number }[];
  findings: string[];
  format: { rows: { model: string; cell: Cell | null }[]; statements: string[] };
}

describe('npm run demo (examples/demo.yaml)', () => {
  let report: Report;

  beforeAll(async () => {
    ({ work, env } = testFolder('demo.yaml'));
    const up = await delta('stack', 'up', '--root', work);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    await delta('stack', 'down', '--grace-seconds', '10');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds and checks the ladder, runs every stage and writes the report', async () => {
    const run = await delta('run', 'demo.yaml', '--keep-stack');
    expect(run.code, run.stderr.slice(-4000)).toBe(0);
    expect(run.stderr).toContain('world: the ladder passed its check');
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as
      { state: string; report: { json: string } };
    expect(out.state).toBe('succeeded');
    report = JSON.parse(readFileSync(out.report.json, 'utf8')) as Report;
  });

  it('has the ladder in order on the arithmetic task: weak < strong < student', () => {
    const score = (model: string) =>
      report.deltaTable.rows.find((r) => r.model === model)!.cells[0]!;
    expect(score('weak').ciHigh).toBeLessThan(score('strong').ciLow);
    expect(score('strong').ciHigh).toBeLessThan(score('student').ciLow);
  });

  it('finds SFT on the chosen answers hurting the student more than DPO on the same pairs', () => {
    const claim = (name: string) => report.comparisons.find((c) => c.claim === name)!;
    expect(claim('sft_vs_student').ciHigh).toBeLessThan(0);
    expect(claim('dpo_vs_sft').ciLow).toBeGreaterThan(0);
    // The demo does not show DPO beating the student's start; the report says so in words.
    expect(report.findings.join('\n')).toMatch(/DPO on the weak pairs (beat|did not beat) the student/u);
  });

  it('moves the section count past both teachers with DPO and toward the chosen one with SFT', () => {
    const sections = (model: string) => report.format.rows.find((r) => r.model === model)!.cell!;
    const [dpo, sft] = [sections('format-dpo'), sections('format-sft')];
    expect(sections('strong').value).toBe(3);
    expect(sections('weak').value).toBe(2);
    expect(dpo.ciLow).toBeGreaterThan(sections('student').ciHigh);
    expect(sft.ciHigh).toBeLessThan(dpo.ciLow);
    expect(Math.abs(sft.value - 3)).toBeLessThan(1.5);
    expect(report.format.statements[0]).toContain('above both teachers');
  });
});
