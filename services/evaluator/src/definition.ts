// The evaluator service as the shared runtime runs it: Start/Watch/Get/Cancel of evaluation
// jobs (a model and benchmark tasks in, metrics with confidence intervals out) and the Score
// call (given responses in, metrics and verdicts out). Any task registered with libs/evals'
// registerTask is served by name; the service keeps no list of its own.
import { EvaluatorService, type EvaluationJob, type ScoreRequest } from '@delta/contracts';
import { EVALUATION } from '@delta/jobs';
import type { JobServiceDefinition, ServiceContext } from '@delta/service';
import { EVALUATOR_PORT, readEvaluatorSettings, type EvaluatorSettings } from './config.js';
import { runEvaluation } from './evaluate.js';
import { evaluatorMetrics, type EvaluatorMetrics } from './metrics.js';
import { scoreResponses } from './score.js';
import { fillDefaults, planEvaluation } from './spec.js';

export {
  EVALUATOR_PORT,
  evaluatorEnvSpec,
  evaluatorSettingsSpec,
  readEvaluatorSettings,
  type EvaluatorSettings,
} from './config.js';

/**
 * The evaluator's definition for `startJobService`, with its settings read from the
 * environment by default. Start checks the whole spec, data files included, so a bad request
 * fails at once instead of as a job.
 */
export function evaluatorService(
  settings: EvaluatorSettings = readEvaluatorSettings(),
): JobServiceDefinition<EvaluationJob> {
  const metrics = new WeakMap<ServiceContext, EvaluatorMetrics>();
  const metricsOf = (ctx: ServiceContext): EvaluatorMetrics => {
    let m = metrics.get(ctx);
    if (!m) metrics.set(ctx, (m = evaluatorMetrics(ctx.telemetry.meter())));
    return m;
  };

  return {
    name: 'evaluator',
    defaultPort: EVALUATOR_PORT,
    kind: EVALUATION,
    service: EvaluatorService,
    async prepare(spec, ctx) {
      fillDefaults(spec, settings);
      await planEvaluation(spec, ctx.roots, settings);
    },
    run: (job, ctx) => runEvaluation(job, ctx, settings, metricsOf(ctx)),
    extraMethods: (ctx) => ({
      score: (req: ScoreRequest) => scoreResponses(req, ctx.roots, settings, metricsOf(ctx)),
    }),
  };
}
