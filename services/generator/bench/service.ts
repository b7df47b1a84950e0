// Measures the generator service end to end - StartGeneration to SUCCEEDED, responses committed
// to Kafka - against @delta/lm decoding the same prompts directly, at batch 1, 8 and 32, on a
// ~9.8M-parameter Llama with random weights and GSM8K questions as prompts (greedy, a fixed
// number of new tokens: the model names no end token). Prints one JSON line per figure and
// asserts nothing. The model is built once into .cache/generator-bench (gitignored).
//
// Run: npm run bench -w @delta/generator [-- --prompts N --new-tokens N --threads N]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GeneratorService, JobState, type GenerationJob } from '@delta/contracts';
import { LanguageModel } from '@delta/lm';
import { createClient } from '@delta/rpc';
import { startJobService } from '@delta/service';
import { createStream } from '@delta/stream';
import { startTestKafka, uniqueName } from '@delta/stream/testing';
import { createGeneratorService } from '../src/index.js';
import { tinyModel } from '../test/model-folder.js';

const root = path.resolve(import.meta.dirname, '../../..');
const { values: args } = parseArgs({
  options: {
    prompts: { type: 'string', default: '64' },
    'new-tokens': { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
  },
});
const promptCount = Number(args.prompts);
const newTokens = Number(args['new-tokens']);
const threads = Number(args.threads);

// The benchmark model: the shape of @delta/lm's bench model (GQA 6/2, about 9.8M parameters
// with its 512-token vocabulary), here with the byte tokenizer's 264 tokens.
const cache = path.join(root, '.cache', 'generator-bench');
const modelName = 'llama-10m-v1';
if (!existsSync(path.join(cache, modelName, 'onnx', 'model.onnx'))) {
  mkdirSync(cache, { recursive: true });
  tinyModel(cache, modelName, {
    hidden: 384, layers: 6, context: 512, seed: 20250101, noEndTokens: true,
    config: { intermediate_size: 1024, num_attention_heads: 6, num_key_value_heads: 2 },
  });
}

// Questions short enough to leave room for the new tokens in the 512-token context.
const questions = readFileSync(path.resolve(root, '../shared/data/gsm8k/test.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim())
  .map((l, i) => ({ id: `gsm8k-test-${i}`, prompt: (JSON.parse(l) as { question: string })
    .question }))
  .filter((q) => Buffer.byteLength(q.prompt) + 24 + newTokens <= 512).slice(0, promptCount);
const promptsFile = path.join(cache, `prompts-${promptCount}.jsonl`);
writeFileSync(promptsFile, questions.map((q) => JSON.stringify(q)).join('\n') + '\n');

const kafka = await startTestKafka();
const stream = createStream({ brokers: kafka.brokers, clientId: 'generator-bench' });
const responsesTopic = uniqueName('bench.responses');
const admin = stream.admin();
await admin.ensureTopics([{ topic: responsesTopic, partitions: 4 }]);
await admin.disconnect();

const env = {
  DELTA_KAFKA_BROKERS: kafka.brokers,
  DELTA_GRPC_PORT: '0',
  DELTA_JOBS_TOPIC: uniqueName('bench.jobs'),
  DELTA_MODEL_ROOTS: cache,
  DELTA_DATA_ROOTS: cache,
  DELTA_LOG_LEVEL: 'warn',
  DELTA_GENERATOR_THREADS: String(threads),
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
};
const service = await startJobService(createGeneratorService(env), { env });
const client = createClient(GeneratorService, service.server.address);
const lm = await LanguageModel.load(path.join(cache, modelName), { threads });
// The first run of a session pays ONNX Runtime's one-time set-up; keep it out of the figures.
await lm.generate([{ prompt: 'warm up', maxNewTokens: 4 }]);

for (const batch of [1, 8, 32]) {
  const count = batch === 1 ? Math.min(16, promptCount) : promptCount;
  const started = performance.now();
  const { jobId } = await client.startGeneration({
    runId: uniqueName('bench'),
    spec: {
      model: modelName,
      prompts: { source: { case: 'file', value: promptsFile }, limit: count },
      sampling: { maxNewTokens: newTokens },
      batchSize: batch,
      responsesTopic,
    },
  });
  let job: GenerationJob | undefined;
  for await (const update of client.watchGeneration({ jobId })) job = update.job;
  const serviceSeconds = (performance.now() - started) / 1000;
  if (job?.meta?.state !== JobState.SUCCEEDED) throw new Error(`job ended ${job?.meta?.state}`);
  const output = Number(job.status!.outputTokens);

  const direct = performance.now();
  await lm.generate(questions.slice(0, count).map((q) => ({
    messages: [{ role: 'user', content: q.prompt }], maxNewTokens: newTokens,
  })), { batchSize: batch });
  const directSeconds = (performance.now() - direct) / 1000;

  console.log(JSON.stringify({
    bench: 'generator-service', batch, prompts: count, new_tokens: newTokens, threads,
    service_seconds: +serviceSeconds.toFixed(2),
    service_tokens_per_second: Math.round(output / serviceSeconds),
    decode_tokens_per_second: Math.round(job.status!.tokensPerSecond),
    direct_tokens_per_second: Math.round(output / directSeconds),
    overhead_seconds: +(serviceSeconds - directSeconds).toFixed(2),
  }));
}

client.close();
await lm.dispose();
await service.stop('bench over');
await kafka.stop();
