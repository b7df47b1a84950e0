// Reward accuracy of a policy on a set of pairs: the implicit DPO reward of each side is
// beta x (policy log-prob - reference log-prob), summed over the response or averaged per token
// as the loss scores it; a pair counts as right when the chosen side's reward is higher. It
// trains nothing and reads reference log-probs from the caller (the run's cache).
import type { Model, ReferenceLogProb } from '@delta/engine';
import type { TokenizedPair } from './tokenize.js';

/** Reward figures over a set of pairs, averaged per pair. */
export interface RewardFigures {
  /** Share of pairs whose chosen reward exceeds the rejected one. */
  accuracy: number;
  /** Mean of chosen reward minus rejected reward. */
  margin: number;
  chosen: number;
  rejected: number;
  pairs: number;
}

/** Scores every pair with the policy and compares it with the reference. */
export async function rewardFigures(
  policy: Model,
  pairs: readonly TokenizedPair[],
  reference: readonly ReferenceLogProb[],
  options: { beta: number; lengthNormalised: boolean; batchSize: number; maxLength: number },
): Promise<RewardFigures> {
  if (pairs.length === 0) return { accuracy: 0, margin: 0, chosen: 0, rejected: 0, pairs: 0 };
  const seqs = pairs.flatMap((p) => [
    { prompt: p.prompt, response: p.chosen },
    { prompt: p.prompt, response: p.rejected },
  ]);
  const scored = await policy.sequenceLogProbs(seqs, {
    batchSize: options.batchSize, maxLength: options.maxLength,
  });
  const score = (sum: number, tokens: number) => (options.lengthNormalised ? sum / tokens : sum);

  let right = 0;
  let margin = 0;
  let chosen = 0;
  let rejected = 0;
  pairs.forEach((_, i) => {
    const ref = reference[i]!;
    const c = options.beta * (score(scored[2 * i]!.sum, scored[2 * i]!.tokens) -
      score(ref.chosen, ref.chosenTokens));
    const r = options.beta * (score(scored[2 * i + 1]!.sum, scored[2 * i + 1]!.tokens) -
      score(ref.rejected, ref.rejectedTokens));
    if (c > r) right += 1;
    margin += c - r;
    chosen += c;
    rejected += r;
  });
  const n = pairs.length;
  return { accuracy: right / n, margin: margin / n, chosen: chosen / n, rejected: rejected / n,
    pairs: n };
}
