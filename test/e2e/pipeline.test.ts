// The delta command end to end, as a person runs it: examples/tiny.yaml (a world of three
// random-weight models built by examples/tiny-world.mjs) run detached on a local stack of real
// processes - the four built services on the test's Kafka broker - followed with `watch`, read
// with `status`, run again under its id (every stage skipped), and the stack brought down.
// The models are noise, so the test checks the path and the report's shape, not the effect.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { bin, lastJson, repoRoot, runDelta, testFolder, type Result } from './cli.js';

let work: string;
let env: Record<string, string | undefined>;

/** Runs the built `delta` command as a person would, in the test's folder. */
function delta(...args: string[]): Promise<Result> {
  return runDelta(args, { cwd: work, env });
}

/** Whether `pid` is a live process running a command line (a zombie has none). */
function runsNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0;
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('delta run on a local stack', () => {
  let runId: string;
  let runDir: string;
  let stackStartedByRun: boolean;

  beforeAll(async () => {
    // The example pipeline, with topics of its own on the shared broker and the world's cache
    // in the test folder.
    ({ work, env } = testFolder('tiny.yaml', (pipeline) => {
      pipeline.world!.module = path.join(repoRoot, 'examples', 'tiny-world.mjs');
    }));

    // With nothing on the default ports the run must start the stack itself; when something
    // else listens there, a stack brought up first (on free ports) keeps the test apart.
    const free = (await Promise.all([50051, 50052, 50053, 50054].map(portFree))).every(Boolean);
    stackStartedByRun = free;
    if (!free) {
      const up = await delta('stack', 'up', '--root', work);
      expect(up.code, up.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await delta('stack', 'down', '--grace-seconds', '10');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs detached and `watch` follows it to a succeeded run with a report', async () => {
    const started = await delta('run', 'tiny.yaml', '--detach', '--keep-stack');
    expect(started.code, started.stderr).toBe(0);
    const out = lastJson(started.stdout);
    runId = String(out.run_id);
    runDir = String(out.run_dir);
    expect(runId).toMatch(/^tiny-\d{8}-\d{6}-[0-9a-f]{4}$/u);
    expect(typeof out.driver_pid).toBe('number');

    const watched = await delta('watch', runId);
    expect(watched.code, `${watched.stderr}\n${readFileSync(path.join(runDir, 'driver.log'), 'utf8')}`)
      .toBe(0);
    expect(lastJson(watched.stdout).state).toBe('succeeded');
    expect(watched.stderr).toContain('report: ');
  });

  it('`status --json` shows every stage done and each job succeeded once', async () => {
    const status = await delta('status', runId, '--json');
    expect(status.code, status.stderr).toBe(0);
    const state = lastJson(status.stdout) as {
      state: string; stack: { startedByRun: boolean };
      stages: Record<string, { state: string;
        jobs: Record<string, { state: string; attempt: number }> }>;
    };
    expect(state.state).toBe('succeeded');
    if (stackStartedByRun) expect(state.stack.startedByRun).toBe(true);
    expect(Object.fromEntries(Object.entries(state.stages).map(([k, v]) => [k, v.state]))).toEqual({
      world: 'done', generate: 'done', pair: 'done', train: 'done', evaluate: 'done', report: 'done',
    });
    const jobs = (stage: string) => Object.keys(state.stages[stage]!.jobs).sort();
    expect(jobs('generate')).toEqual(['strong', 'strong-sampled', 'weak']);
    expect(jobs('pair')).toEqual(['same-model', 'weak-pairs']);
    expect(jobs('train')).toEqual(['dpo', 'no-delta', 'reversed', 'sft']);
    expect(jobs('evaluate')).toEqual(['dpo', 'no-delta', 'reversed', 'sft', 'strong', 'student',
      'weak']);
    for (const stage of ['generate', 'pair', 'train', 'evaluate']) {
      for (const job of Object.values(state.stages[stage]!.jobs)) {
        expect(job).toMatchObject({ state: 'SUCCEEDED', attempt: 1 });
      }
    }

    const text = await delta('status', runId);
    expect(text.stdout).toContain(`run ${runId}  succeeded`);
    expect(text.stdout).toContain('report: ');
  });

  it('writes the delta table, comparisons and curves the paper\'s rows need', () => {
    const report = JSON.parse(readFileSync(path.join(runDir, 'report.json'), 'utf8')) as {
      deltaTable: { columns: Array<{ task: string; metric: string; rate: boolean }>;
        rows: Array<{ label: string; cells: Array<{ value: number; ciLow: number; ciHigh: number;
          n: number } | null> }> };
      comparisons: Array<{ claim: string; paired: boolean; n: number; diff: number }>;
      training: Array<{ name: string; steps: number; curve: Array<{ step: number; loss: number }> }>;
      pairing: Array<{ name: string; pairsWritten: number }>;
      generation: Array<{ name: string; responses: number }>;
      findings: string[];
    };
    expect(report.deltaTable.columns).toEqual([
      { task: 'gsm8k', metric: 'exact_match_flexible', rate: true }]);
    expect(report.deltaTable.rows.map((r) => r.label)).toEqual([
      'student before tuning', 'SFT on the chosen responses', 'DPO on the weak pairs',
      'DPO on reversed pairs (control)', 'DPO without a delta: one model on both sides (control)',
      'teacher strong', 'teacher weak']);
    for (const row of report.deltaTable.rows) {
      const cell = row.cells[0]!;
      expect(cell.n).toBe(12);
      expect(cell.value).toBeGreaterThanOrEqual(0);
      expect(cell.value).toBeLessThanOrEqual(1);
      expect(cell.ciLow).toBeLessThanOrEqual(cell.value);
      expect(cell.ciHigh).toBeGreaterThanOrEqual(cell.value);
    }
    expect(report.comparisons.map((c) => c.claim)).toEqual(['dpo_vs_student', 'dpo_vs_sft',
      'sft_vs_student', 'control_reversed', 'control_no_delta']);
    for (const c of report.comparisons) expect(c).toMatchObject({ paired: true, n: 12 });
    expect(report.findings[0]).toMatch(
      /^DPO on the weak pairs (beat|partly beat|did not beat) the student's starting score/u);

    expect(report.generation.map((g) => [g.name, g.responses])).toEqual([
      ['strong', 24], ['weak', 24], ['strong-sampled', 24]]);
    const pairs = Object.fromEntries(report.pairing.map((p) => [p.name, p.pairsWritten]));
    expect(pairs['weak-pairs']).toBeGreaterThan(0);
    expect(pairs['same-model']).toBeGreaterThan(0);
    for (const t of report.training) {
      expect(t.steps).toBe(4);
      expect(t.curve.map((p) => p.step)).toEqual([1, 2, 3, 4]);
      for (const p of t.curve) expect(Number.isFinite(p.loss)).toBe(true);
    }
    const exported = readFileSync(path.join(runDir, 'pairs', 'weak-pairs.jsonl'), 'utf8')
      .trim().split('\n');
    expect(exported).toHaveLength(pairs['weak-pairs']!);

    const markdown = readFileSync(path.join(runDir, 'report.md'), 'utf8');
    expect(markdown).toContain('## Delta table');
    expect(markdown).toMatch(/\| DPO on the weak pairs \| \d+\.\d \(\d+\.\d-\d+\.\d\), n=12 \|/u);
    const html = readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(html.match(/<svg /gu)?.length).toBe(4);
    // Self-contained: no script, and no address but the SVG namespace.
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/u);
  });

  it('runs again under the same id without starting any job', async () => {
    const before = readFileSync(path.join(runDir, 'state.json'), 'utf8');
    const again = await delta('run', 'tiny.yaml', '--run-id', runId, '--keep-stack');
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout).state).toBe('succeeded');
    const jobIds = (text: string) => [...text.matchAll(/"jobId": "([^"]+)"/gu)].map((m) => m[1]);
    expect(jobIds(readFileSync(path.join(runDir, 'state.json'), 'utf8'))).toEqual(jobIds(before));
  });

  it('continues a run whose driver was killed, following the jobs it left in flight', async () => {
    const started = await delta('run', 'tiny.yaml', '--detach', '--keep-stack');
    expect(started.code, started.stderr).toBe(0);
    const { run_id: id, run_dir: folder, driver_pid: driver } = lastJson(started.stdout) as
      { run_id: string; run_dir: string; driver_pid: number };
    type State = { state: string; stages: Record<string, { state: string;
      jobs: Record<string, { jobId: string; state: string; attempt: number }> }> };
    const read = () => JSON.parse(readFileSync(path.join(folder, 'state.json'), 'utf8')) as State;

    // Kill the driver while training jobs are queued or running on the trainer.
    const deadline = Date.now() + 120_000;
    let inFlight: State | undefined;
    while (!inFlight && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const state = (() => { try { return read(); } catch { return undefined; } })();
      const train = Object.values(state?.stages.train?.jobs ?? {});
      if (train.some((j) => j.state === 'QUEUED' || j.state === 'RUNNING')) inFlight = state;
    }
    expect(inFlight, 'the run reached training').toBeDefined();
    process.kill(driver, 'SIGKILL');

    const status = await delta('status', id);
    expect(status.stdout).toContain(`no driver is running: continue with  delta resume ${id}`);
    const resumed = await delta('resume', id, '--keep-stack');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout).state).toBe('succeeded');

    // The jobs that were in flight were followed again, not started a second time.
    const after = read();
    for (const [name, job] of Object.entries(inFlight!.stages.train!.jobs)) {
      expect(after.stages.train!.jobs[name]).toMatchObject({ jobId: job.jobId, attempt: 1,
        state: 'SUCCEEDED' });
    }
    expect(Object.values(after.stages).every((s) => s.state === 'done')).toBe(true);
  });

  it('stops following on Ctrl-C, leaving the run interrupted and resumable', async () => {
    const child = spawn(process.execPath, [bin, 'run', 'tiny.yaml', '--keep-stack'],
      { cwd: work, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    // Interrupt once the generation jobs are running.
    const deadline = Date.now() + 120_000;
    while (!/generate \S+: running/u.test(stderr) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    const out = lastJson(stdout);
    expect(out.state).toBe('interrupted');
    expect(stderr).toContain(`Continue with: delta resume ${String(out.run_id)}`);

    const resumed = await delta('resume', String(out.run_id), '--keep-stack');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout).state).toBe('succeeded');
  });

  it('lists the prompts a generation rejected and stops a run whose prompt file has none',
    async () => {
      const variant = (name: string, prompts: string) => {
        const pipeline = parse(readFileSync(path.join(work, 'tiny.yaml'), 'utf8')) as
          Record<string, unknown>;
        // Beside the world's files: a folder the stack may open however it was started.
        writeFileSync(path.join(work, 'world', `${name}.jsonl`), prompts);
        writeFileSync(path.join(work, `${name}.yaml`), stringify({ ...pipeline, name,
          prompts: { train: `world/${name}.jsonl` } }));
        return `${name}.yaml`;
      };
      const empty = await delta('run', variant('empty', ''), '--keep-stack');
      expect(empty.code).not.toBe(0);
      expect(empty.stderr).toContain(
        "generate job 'strong' answered no prompt: its prompt file holds no prompts");

      const mixed = await delta('run', variant('mixed',
        '{"id": "a", "prompt": "What is 2+2?"}\nnot json\n{"id": "b"}\n'), '--keep-stack');
      expect(mixed.stderr).toMatch(/generate strong: 2 prompt\(s\) rejected: line 2: [^;]+; line 3: /u);
    });

  it('starts a stack of its own beside services another stack folder started', async () => {
    // Only meaningful when this test's stack holds the default ports.
    if (!stackStartedByRun) return;
    const otherDir = path.join(work, 'other-stack');
    const other = { ...env, DELTA_STACK_DIR: otherDir };
    const run = await runDelta(['run', 'tiny.yaml'], { cwd: work, env: other });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`but ${otherDir} records no stack: they are another stack's`);
    expect(lastJson(run.stdout).state).toBe('succeeded');
    // The run stopped the stack it started; the first one is still up.
    expect(existsSync(path.join(otherDir, 'stack.json'))).toBe(false);
    expect((await delta('stack', 'status')).code).toBe(0);
  });

  it('`stack up` restarts only a service that died, on its port, leaving the rest running',
    async () => {
      type Component = { name: string; pid?: number; address: string; healthy: boolean };
      const components = async () => lastJson((await delta('stack', 'status', '--json')).stdout)
        .components as Component[];
      const before = await components();
      const pairer = before.find((c) => c.name === 'pairer')!;
      process.kill(pairer.pid!, 'SIGKILL');
      // A root the stack has however it was started, so that no folder is missing.
      const up = await delta('stack', 'up', '--root', path.join(work, 'runs'));
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain('stack: restarting pairer; the broker and the other services ' +
        'stay up');
      const after = await components();
      expect(after.every((c) => c.healthy)).toBe(true);
      for (const c of after) {
        const was = before.find((b) => b.name === c.name)!;
        expect(c.address).toBe(was.address);
        if (c.name === 'pairer') expect(c.pid).not.toBe(was.pid);
        else expect(c.pid, c.name).toBe(was.pid);
      }
    });

  it('`stack status` reports every component healthy, and `stack down` stops them', async () => {
    const status = await delta('stack', 'status', '--json');
    expect(status.code, status.stdout).toBe(0);
    const components = (lastJson(status.stdout).components as Array<{ name: string;
      address: string; healthy: boolean; pid?: number }>);
    expect(components.map((c) => c.name)).toEqual(['kafka', 'generator', 'pairer', 'trainer',
      'evaluator']);
    expect(components.every((c) => c.healthy)).toBe(true);

    // Down and up again: the services come back on the ports they had, where a run that was
    // waiting for them looks.
    expect((await delta('stack', 'down')).code).toBe(0);
    const again = await delta('stack', 'up', '--root', path.join(work, 'runs'));
    expect(again.code, again.stderr).toBe(0);
    const back = lastJson((await delta('stack', 'status', '--json')).stdout).components as
      Array<{ name: string; address: string; pid?: number }>;
    expect(back.slice(1).map((c) => c.address)).toEqual(components.slice(1).map((c) => c.address));

    const down = await delta('stack', 'down');
    expect(down.code, down.stderr).toBe(0);
    for (const c of back.slice(1)) expect(runsNode(c.pid!)).toBe(false);
    // Gone, or a zombie until its parent (init, for detached processes) reaps it.
    for (const c of components.slice(1)) expect(runsNode(c.pid!)).toBe(false);
    expect((await delta('stack', 'status')).code).toBe(3);
  });
});
