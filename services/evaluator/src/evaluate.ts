// The work of an evaluation job: load the model once, run each task of the plan through the
// evals runner, report progress in items, write the details file and each task's metrics as
// the task ends. A resumed job skips the tasks whose results it already holds; a task cut off
// by a crash or shutdown is run again from its first item.
import { create } from '@bufbuild/protobuf';
import { TaskResultSchema, type EvaluationJob, type TaskResult } from '@delta/contracts';
import { runTask, type TaskResult as EvalTaskResult } from '@delta/evals';
import type { RunningJob } from '@delta/jobs';
import { LanguageModel } from '@delta/lm';
import type { ServiceContext } from '@delta/service';
import { GEN_AI_REQUEST_MODEL } from '@delta/telemetry';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { DELTA_EVAL_ITEMS, DELTA_EVAL_NUM_FEWSHOT, DELTA_EVAL_TASK } from './attributes.js';
import type { EvaluatorSettings } from './config.js';
import { appendDetails, openDetails } from './details.js';
import { toServiceError } from './errors.js';
import { lmEvalModel } from './lm-model.js';
import type { EvaluatorMetrics } from './metrics.js';
import { planEvaluation, type EvaluationPlan, type TaskPlan } from './spec.js';

const tracer = trace.getTracer('delta-evaluator');

/** A task result in its wire form. */
export function taskResultMessage(result: EvalTaskResult): TaskResult {
  return create(TaskResultSchema, {
    task: result.task,
    primaryMetric: result.primaryMetric,
    metrics: result.metrics.map((m) => ({
      name: m.name, value: m.value, ciLow: m.ciLow, ciHigh: m.ciHigh, n: BigInt(m.n),
    })),
  });
}

async function loadModel(
  plan: EvaluationPlan,
  settings: EvaluatorSettings,
): Promise<LanguageModel> {
  try {
    return await LanguageModel.load(plan.modelDir, {
      ...(settings.threads ? { threads: settings.threads } : {}),
      executionProvider: settings.executionProvider as 'auto' | 'cpu' | 'cuda',
    });
  } catch (err) {
    throw toServiceError(err, 'spec.model');
  }
}

/** Runs an evaluation job to its end, or until its signal stops it between model calls. */
export async function runEvaluation(
  job: RunningJob<EvaluationJob>,
  ctx: ServiceContext,
  settings: EvaluatorSettings,
  metrics: EvaluatorMetrics,
): Promise<void> {
  const plan = await planEvaluation(job.spec, ctx.roots, settings);
  const status = job.status;

  // A resumed job keeps the results of tasks that ended; the rest run from their first item.
  if (!job.resumed) status.results = [];
  const finished = new Set(status.results.map((r) => r.task));
  const total = plan.tasks.reduce((n, t) => n + t.items.length, 0);
  let done = plan.tasks.filter((t) => finished.has(t.task.name))
    .reduce((n, t) => n + t.items.length, 0);
  status.itemsTotal = BigInt(total);
  status.itemsDone = BigInt(done);
  status.detailsFile = plan.detailsFile ?? '';
  if (plan.detailsFile) await openDetails(plan.detailsFile, job.resumed ? finished : null);
  job.report({ done, total, unit: 'items', stage: 'loading the model' });

  const lm = await loadModel(plan, settings);
  try {
    const model = lmEvalModel(lm, {
      name: job.spec.modelName, signal: job.signal, onBatch: (f) => metrics.batch(f),
    });
    for (const t of plan.tasks) {
      if (finished.has(t.task.name)) continue;
      if (job.signal.aborted) return;
      job.report({ stage: `${t.task.name} (task ${t.index + 1} of ${plan.tasks.length})` });

      const before = done;
      const run = await runOne(model, plan, t, job.spec.modelName, (d, n) => {
        status.itemsDone = BigInt(before + Math.floor((t.items.length * d) / n));
        job.report({ done: Number(status.itemsDone) });
      });

      if (plan.detailsFile) await appendDetails(plan.detailsFile, t.task.name, run.items);
      status.results.push(taskResultMessage(run.result));
      done += t.items.length;
      status.itemsDone = BigInt(done);
      metrics.itemsEvaluated(t.task.name, t.items.length);
      job.report({ done });
    }
  } finally {
    await lm.dispose();
  }
}

/**
 * One task in its own span. Progress comes per model call in requests (choices, for a
 * multiple-choice task) and is passed on as the share of the task's items.
 */
function runOne(
  model: ReturnType<typeof lmEvalModel>,
  plan: EvaluationPlan,
  t: TaskPlan,
  modelName: string,
  onProgress: (done: number, total: number) => void,
): ReturnType<typeof runTask> {
  return tracer.startActiveSpan(`evaluate ${t.task.name}`, {
    attributes: {
      [GEN_AI_REQUEST_MODEL]: modelName,
      [DELTA_EVAL_TASK]: t.task.name,
      [DELTA_EVAL_ITEMS]: t.items.length,
      [DELTA_EVAL_NUM_FEWSHOT]: t.spec.numFewshot,
    },
  }, async (span) => {
    try {
      return await runTask(model, t.task, t.items, {
        batchSize: plan.batchSize,
        numFewshot: t.spec.numFewshot,
        fewshotDocs: t.docs,
        ...(t.sampling ? { sampling: t.sampling } : {}),
        bootstrap: plan.bootstrap,
        onProgress,
      });
    } catch (err) {
      const error = toServiceError(err, t.field);
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      throw error;
    } finally {
      span.end();
    }
  });
}
