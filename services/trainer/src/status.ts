// The job status and metrics.jsonl lines of a training run: a step's figures copied into the
// status and into one JSON line, and a resumed or completed run's status read back from the
// folder. It computes nothing.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fromJson } from '@bufbuild/protobuf';
import { TrainingStatusSchema, type TrainingStatus } from '@delta/contracts';
import type { StepMetrics } from '@delta/engine';
import type { RewardFigures } from './evaluate.js';
import type { RunDir } from './run-dir.js';

/** Copies a step's figures into the job status. */
export function fillStep(status: TrainingStatus, m: StepMetrics, step: number, epoch: number,
  eta: number): void {
  status.step = step;
  status.epoch = epoch;
  status.loss = m.loss;
  status.gradNorm = m.gradNorm;
  status.learningRate = m.lr;
  status.rewardAccuracy = m.rewardsAccuracy;
  status.rewardMargin = m.rewardsMargin;
  status.rewardChosen = m.rewardsChosen;
  status.rewardRejected = m.rewardsRejected;
  status.logpChosen = m.logpsChosen;
  status.logpRejected = m.logpsRejected;
  status.tokensPerSecond = m.tokensPerSecond;
  status.etaSeconds = eta;
}

/** One line of metrics.jsonl for a step. */
export function stepLine(m: StepMetrics, step: number, epoch: number): Record<string, unknown> {
  return {
    step, epoch, split: 'step', loss: m.loss, grad_norm: m.gradNorm, lr: m.lr,
    reward_accuracy: m.rewardsAccuracy, reward_margin: m.rewardsMargin,
    reward_chosen: m.rewardsChosen, reward_rejected: m.rewardsRejected,
    logp_chosen: m.logpsChosen, logp_rejected: m.logpsRejected, nll_chosen: m.nllChosen,
    pairs: m.pairs, tokens: m.tokens, seconds: m.seconds, tokens_per_second: m.tokensPerSecond,
  };
}

/** The fields of an evaluation's metrics.jsonl line. */
export function figuresLine(f: RewardFigures): Record<string, unknown> {
  return { reward_accuracy: f.accuracy, reward_margin: f.margin, reward_chosen: f.chosen,
    reward_rejected: f.rejected, pairs: f.pairs };
}

/** After a resume: the status shows the last step the folder kept. */
export async function restoreLastMetrics(dir: RunDir, status: TrainingStatus): Promise<void> {
  if (!existsSync(dir.metricsFile)) return;
  const lines = (await readFile(dir.metricsFile, 'utf8')).split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, number | string>);
  const last = lines.filter((l) => l.split === 'step').at(-1);
  if (last) {
    status.step = Number(last.step);
    status.epoch = Number(last.epoch);
    status.loss = Number(last.loss);
    status.gradNorm = Number(last.grad_norm);
    status.learningRate = Number(last.lr);
    status.rewardAccuracy = Number(last.reward_accuracy);
    status.rewardMargin = Number(last.reward_margin);
    status.rewardChosen = Number(last.reward_chosen);
    status.rewardRejected = Number(last.reward_rejected);
    status.logpChosen = Number(last.logp_chosen);
    status.logpRejected = Number(last.logp_rejected);
    status.tokensPerSecond = Number(last.tokens_per_second);
  }
  const evaluation = lines.filter((l) => l.split !== 'step').at(-1);
  if (evaluation) {
    status.evalStep = Number(evaluation.step);
    status.evalRewardAccuracy = Number(evaluation.reward_accuracy);
    status.evalRewardMargin = Number(evaluation.reward_margin);
  }
}

/** A complete folder: the status it finished with, paths as this job names them. */
export async function restoreSummary(dir: RunDir, status: TrainingStatus,
  shown: (file: string) => string): Promise<void> {
  const summary = JSON.parse(await readFile(dir.summaryFile, 'utf8')) as { status: unknown };
  Object.assign(status, fromJson(TrainingStatusSchema, summary.status as never));
  status.metricsFile = shown(dir.metricsFile);
  status.modelDir = shown(dir.modelDir);
  status.checkpointDir = shown(dir.checkpointDir(status.totalSteps));
  status.onnxPath = existsSync(path.join(dir.modelDir, 'onnx', 'model.onnx'))
    ? shown(path.join(dir.modelDir, 'onnx', 'model.onnx')) : '';
}
