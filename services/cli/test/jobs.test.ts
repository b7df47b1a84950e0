// Starting a job through a service that is away for a moment: `startJob` waits and starts again
// (safe: the job id is the same), gives up after the reconnect budget naming how long it
// waited, and fails at once on a refusal that waiting cannot change. The service side is a
// scripted JobOps: what is tested is the CLI's retry rule, not a service.
import { JobState } from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import { describe, expect, it } from 'vitest';
import { startJob, type JobOps, type JobView } from '../src/run/jobs.js';

const started: JobView = { state: JobState.QUEUED, entry: { state: 'QUEUED' } };

function ops(answers: Array<RpcError | JobView>): JobOps & { calls: number } {
  const self = {
    calls: 0,
    start: async () => {
      const next = answers[Math.min(self.calls++, answers.length - 1)]!;
      if (next instanceof RpcError) throw next;
      return next;
    },
    watch: () => { throw new Error('not used'); },
    get: () => { throw new Error('not used'); },
    cancel: () => { throw new Error('not used'); },
  };
  return self as unknown as JobOps & { calls: number };
}

const request = { runId: 'r', jobId: 'r.generate.strong.1', spec: {} };
const away = new RpcError(Code.UNAVAILABLE,
  'No connection established. Last error: connect ECONNREFUSED. Resolution note: ');

describe('startJob', () => {
  it('waits for a service that does not answer yet, then starts the job', async () => {
    const service = ops([away, away, started]);
    const view = await startJob(service, 'generator', '127.0.0.1:1', request,
      { signal: new AbortController().signal, reconnectMs: 30_000 });
    expect(view).toBe(started);
    expect(service.calls).toBe(3);
  }, 20_000);

  it('gives up after the reconnect budget, saying how long it waited', async () => {
    await expect(startJob(ops([away]), 'pairer', '127.0.0.1:2', request,
      { signal: new AbortController().signal, reconnectMs: 1_500 })).rejects.toThrow(new RegExp(
      '^pairer at 127\\.0\\.0\\.1:2 did not answer for \\d+ s job r\\.generate\\.strong\\.1: ' +
      'UNAVAILABLE: No connection established\\. Last error: connect ECONNREFUSED\\.$', 'u'));
  }, 20_000);

  it('fails at once on a refusal waiting cannot change', async () => {
    const service = ops([new RpcError(Code.INVALID_ARGUMENT, 'spec.model: required')]);
    await expect(startJob(service, 'trainer', '127.0.0.1:3', request,
      { signal: new AbortController().signal, reconnectMs: 30_000 })).rejects.toThrow(
      'trainer at 127.0.0.1:3 refused job r.generate.strong.1: INVALID_ARGUMENT: spec.model: required');
    expect(service.calls).toBe(1);
  });
});
