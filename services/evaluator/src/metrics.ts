// The evaluator's metrics: items evaluated and scored, tokens read and written, seconds per
// model call. Names are delta.evaluator.*; attributes name the task and the operation.
import type { Meter } from '@opentelemetry/api';
import { GEN_AI_TOKEN_TYPE } from '@delta/telemetry';
import { DELTA_EVAL_OPERATION, DELTA_EVAL_TASK } from './attributes.js';
import type { BatchFigures } from './lm-model.js';

/** What the service records; one set per started service. */
export interface EvaluatorMetrics {
  /** Items of a task an evaluation finished. */
  itemsEvaluated(task: string, count: number): void;
  /** Items a Score call scored. */
  itemsScored(task: string, count: number): void;
  /** One model call's figures. */
  batch(figures: BatchFigures): void;
}

/** Creates the instruments on `meter`. */
export function evaluatorMetrics(meter: Meter): EvaluatorMetrics {
  const evaluated = meter.createCounter('delta.evaluator.items', {
    description: 'Items an evaluation job finished, by task', unit: '{item}',
  });
  const scored = meter.createCounter('delta.evaluator.score.items', {
    description: 'Items Score calls scored, by task', unit: '{item}',
  });
  const tokens = meter.createCounter('delta.evaluator.tokens', {
    description: 'Tokens the model read (input) and wrote (output)', unit: '{token}',
  });
  const seconds = meter.createHistogram('delta.evaluator.batch.duration', {
    description: 'Seconds per model call, by operation', unit: 's',
  });
  return {
    itemsEvaluated: (task, count) => evaluated.add(count, { [DELTA_EVAL_TASK]: task }),
    itemsScored: (task, count) => scored.add(count, { [DELTA_EVAL_TASK]: task }),
    batch(f) {
      const operation = { [DELTA_EVAL_OPERATION]: f.operation };
      tokens.add(f.inputTokens, { ...operation, [GEN_AI_TOKEN_TYPE]: 'input' });
      if (f.outputTokens) {
        tokens.add(f.outputTokens, { ...operation, [GEN_AI_TOKEN_TYPE]: 'output' });
      }
      seconds.record(f.seconds, operation);
    },
  };
}
