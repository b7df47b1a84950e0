// The trainer's OpenTelemetry instruments: the figures each step streams to watchers (loss,
// reward accuracy and margin, chosen and rejected log-probs, learning rate, tokens/s, ETA) as
// gauges, step time as a histogram, and counters of steps, tokens and dropped pairs. Spans are
// made by the caller through `tracer`; this file only names and records.
import type { Attributes, Meter, Tracer } from '@opentelemetry/api';
import type { StepMetrics } from '@delta/engine';
import type { RewardFigures } from './evaluate.js';

/** Instruments of one service instance; every record carries the job's attributes. */
export class TrainerTelemetry {
  private readonly steps;
  private readonly tokens;
  private readonly dropped;
  private readonly stepSeconds;
  private readonly gauges;

  constructor(meter: Meter, readonly tracer: Tracer) {
    this.steps = meter.createCounter('delta.trainer.steps', { description: 'optimizer steps' });
    this.tokens = meter.createCounter('delta.trainer.tokens',
      { description: 'tokens through forward and backward', unit: '{token}' });
    this.dropped = meter.createCounter('delta.trainer.pairs.dropped',
      { description: 'pairs dropped before training, by reason' });
    this.stepSeconds = meter.createHistogram('delta.trainer.step.duration',
      { description: 'seconds per optimizer step', unit: 's' });
    const gauge = (name: string, description: string, unit?: string) =>
      meter.createGauge(name, unit ? { description, unit } : { description });
    this.gauges = {
      loss: gauge('delta.trainer.loss', 'loss of the last step'),
      gradNorm: gauge('delta.trainer.grad_norm', 'gradient norm before clipping'),
      lr: gauge('delta.trainer.learning_rate', 'learning rate of the last step'),
      accuracy: gauge('delta.trainer.reward.accuracy', 'share of the batch\'s pairs ranked right'),
      margin: gauge('delta.trainer.reward.margin', 'mean chosen minus rejected reward'),
      chosen: gauge('delta.trainer.reward.chosen', 'mean reward of the chosen responses'),
      rejected: gauge('delta.trainer.reward.rejected', 'mean reward of the rejected responses'),
      logpChosen: gauge('delta.trainer.logp.chosen',
        'policy log-prob of the chosen responses; falling during DPO is expected'),
      logpRejected: gauge('delta.trainer.logp.rejected', 'policy log-prob of the rejected ones'),
      tokensPerSecond: gauge('delta.trainer.tokens_per_second', 'training throughput',
        '{token}/s'),
      eta: gauge('delta.trainer.eta', 'seconds until the last step at the current pace', 's'),
      evalAccuracy: gauge('delta.trainer.eval.reward.accuracy',
        'reward accuracy on the evaluation pairs'),
      evalMargin: gauge('delta.trainer.eval.reward.margin',
        'reward margin on the evaluation pairs'),
    };
  }

  /** Records one optimizer step's figures. */
  step(m: StepMetrics, etaSeconds: number, attributes: Attributes): void {
    this.steps.add(1, attributes);
    this.tokens.add(m.tokens, attributes);
    this.stepSeconds.record(m.seconds, attributes);
    const g = this.gauges;
    g.loss.record(m.loss, attributes);
    g.gradNorm.record(m.gradNorm, attributes);
    g.lr.record(m.lr, attributes);
    g.accuracy.record(m.rewardsAccuracy, attributes);
    g.margin.record(m.rewardsMargin, attributes);
    g.chosen.record(m.rewardsChosen, attributes);
    g.rejected.record(m.rewardsRejected, attributes);
    g.logpChosen.record(m.logpsChosen, attributes);
    g.logpRejected.record(m.logpsRejected, attributes);
    g.tokensPerSecond.record(m.tokensPerSecond, attributes);
    g.eta.record(etaSeconds, attributes);
  }

  /** Records an evaluation's figures. */
  evaluation(figures: RewardFigures, attributes: Attributes): void {
    this.gauges.evalAccuracy.record(figures.accuracy, attributes);
    this.gauges.evalMargin.record(figures.margin, attributes);
  }

  /** Counts pairs dropped before training. */
  drop(reason: string, count: number, attributes: Attributes): void {
    if (count > 0) this.dropped.add(count, { ...attributes, reason });
  }
}
