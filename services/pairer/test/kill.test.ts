// The built delta-pairer process, killed with SIGKILL at random points of a job (during the
// import and during the pairing) and started again under the same instance id each time. The
// pairs topic must end up holding exactly the pairs an uninterrupted run writes: none lost,
// none twice; the counters and the export must match too.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { create, toJson } from '@bufbuild/protobuf';
import {
  FinishReason, JobState, PairSchema, PairerService, ResponseSchema, type Pair,
} from '@delta/contracts';
import { createClient, type Client } from '@delta/rpc';
import { topic } from '@delta/stream';
import { uniqueName } from '@delta/stream/testing';
import { startTestTelemetry, type TestTelemetry } from '@delta/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pairerEnv, readPairs, removeTempDirs, repoRoot, responseRecord, shuffle, startPairer, tempDir,
  testStream, waitForEnd,
} from './helpers.js';

const MAIN = path.join(repoRoot, 'services/pairer/dist/main.js');
const children: ChildProcess[] = [];
let telemetry: TestTelemetry;

beforeAll(async () => {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} is missing; build first (npx nx build @delta/pairer)`);
  }
  telemetry = await startTestTelemetry('pairer-kill-test');
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await telemetry?.shutdown();
  removeTempDirs();
});

/** Starts the pairer process; resolves with its address once it logs that it serves. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.includes('"pairer serving"')) continue;
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ child, address: (JSON.parse(line) as { address: string }).address });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', (code, signal) => {
      reject(new Error(`delta-pairer exited ${code ?? signal}:\n${output}`));
    });
  });
}

/** A pair without the job that wrote it, for comparing two jobs' output. */
function comparable(pair: Pair): string {
  return JSON.stringify({ ...toJson(PairSchema, pair) as object, jobId: undefined });
}

const RUN = uniqueName('run-kill');
const MODELS = ['rung-7b', 'rung-3b', 'rung-1b'];
const PROMPTS = 900;

/** The input: most responses produced to the topic out of order, a third imported from a file. */
function input() {
  const direct: ReturnType<typeof responseRecord>[] = [];
  const imported: ReturnType<typeof responseRecord>[] = [];
  for (let i = 0; i < PROMPTS; i++) {
    for (const model of MODELS) {
      if (i % 97 === 5 && model === 'rung-1b') continue;
      const text = i % 89 === 3 && model !== 'rung-1b' ? 'same' : `${model} on p-${i}`;
      const finishReason = i % 83 === 7 && model === 'rung-3b' ? FinishReason.LENGTH
        : FinishReason.STOP;
      const record = responseRecord(RUN, `p-${i}`, model, text.padEnd(120, '.'), { finishReason });
      (i % 3 === 0 ? imported : direct).push(record);
    }
  }
  direct.push(responseRecord(RUN, 'p-1', 'rung-7b', 'said twice'));
  return { direct: shuffle(direct, 11), imported };
}

describe('a pairer killed mid-stream', () => {
  let dataRoot: string;
  const { direct, imported } = input();

  beforeAll(() => {
    dataRoot = tempDir('pairer-kill-data-');
    writeFileSync(path.join(dataRoot, 'imported.jsonl'), imported.map((r) =>
      JSON.stringify(toJson(ResponseSchema, create(ResponseSchema, r.value)))).join('\n'));
  });

  async function prepareTopics() {
    const stream = testStream();
    const responses = topic(uniqueName('delta.responses'), ResponseSchema);
    const pairs = topic(uniqueName('delta.pairs'), PairSchema);
    const admin = stream.admin();
    await admin.ensureTopics([{ topic: responses, partitions: 3 }, { topic: pairs, partitions: 2 }]);
    await admin.disconnect();
    const producer = stream.producer();
    for (let i = 0; i < direct.length; i += 200) {
      await producer.send(responses, direct.slice(i, i + 200));
    }
    await producer.disconnect();
    return { stream, responses, pairs };
  }

  function spec(responses: string, pairs: string) {
    return {
      models: MODELS, policy: { case: 'ladder' as const, value: { order: MODELS } },
      responsesTopic: responses, pairsTopic: pairs, untilEnd: true,
      import: { file: 'imported.jsonl', format: 'responses' }, exportFile: `${pairs}.jsonl`,
    };
  }

  it('writes the same set of pairs as an uninterrupted run, none twice', async () => {
    const outRoot = tempDir('pairer-kill-out-');
    const settings = {
      DELTA_DATA_ROOTS: dataRoot,
      DELTA_OUTPUT_ROOTS: outRoot,
      DELTA_PAIRER_FETCH_MAX_BYTES: '8192',
      DELTA_PAIRER_IMPORT_CHUNK: '50',
      DELTA_PAIRER_SESSION_TIMEOUT_MS: '6000',
    };

    // The reference: one uninterrupted run in this process.
    const reference = await prepareTopics();
    const calm = await startPairer(pairerEnv(settings), telemetry);
    const { jobId: calmJob } = await calm.client.startPairing({ runId: RUN,
      spec: spec(reference.responses.name, reference.pairs.name) });
    const calmEnd = await waitForEnd(calm.client, calmJob);
    await calm.service.stop('reference done');
    expect(calmEnd.meta?.state).toBe(JobState.SUCCEEDED);
    const expected = await readPairs(reference.stream, reference.pairs.name);

    // The same job in a child process, killed at rising points of its progress.
    const killed = await prepareTopics();
    const env = { ...pairerEnv(settings), DELTA_LOG_LEVEL: 'info' };
    const total = imported.length + direct.length;
    const seed = Date.now() % 100_000;
    const points = shuffle([0.08, 0.2, 0.3, 0.45, 0.55, 0.7, 0.85], seed).slice(0, 3)
      .sort((a, b) => a - b).map((f) => Math.floor(f * total));
    let { child, address } = await serve(env);
    let client: Client<typeof PairerService> = createClient(PairerService, address);
    const { jobId } = await client.startPairing({ runId: RUN,
      spec: spec(killed.responses.name, killed.pairs.name) });

    const killedAt: string[] = [];
    for (const point of points) {
      for (;;) {
        const { job } = await client.getPairing({ jobId });
        const work = Number(job!.status!.responsesImported + job!.status!.responsesRead);
        if (work >= point || job!.meta!.state === JobState.SUCCEEDED) {
          killedAt.push(`${work}/${total} (${job!.meta!.progress!.stage})`);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      ({ child, address } = await serve(env));
      client = createClient(PairerService, address);
    }
    const end = await waitForEnd(client, jobId);
    child.kill('SIGTERM');

    const context = `seed ${seed}, killed at ${killedAt.join(', ')}`;
    expect(end.meta?.state, context).toBe(JobState.SUCCEEDED);
    const written = await readPairs(killed.stream, killed.pairs.name);
    expect(written.length, context).toBe(expected.length);
    expect(new Set(written.map((p) => p.pairId)).size, context).toBe(written.length);
    expect(new Set(written.map(comparable)), context).toEqual(new Set(expected.map(comparable)));
    expect(end.status, context).toEqual(calmEnd.status);
    expect(end.status?.pairsWritten).toBe(BigInt(expected.length));
    expect(readFileSync(path.join(outRoot, `${killed.pairs.name}.jsonl`), 'utf8'), context)
      .toBe(readFileSync(path.join(outRoot, `${reference.pairs.name}.jsonl`), 'utf8'));
  }, 300_000); // four process starts, each waiting out the killed one's consumer session
});
