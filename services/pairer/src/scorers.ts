// Scorers of the score policy: each gives one response a number, or undefined when it cannot
// (no reference to check against, no score in the record). Verifiers come from @delta/evals;
// this file only maps a Response onto what each verifier reads.
import type { Response } from '@delta/contracts';
import {
  extractFlexible, extractMathAnswer, normalizeNumber, scoreGsm8k, scoreMath,
} from '@delta/evals';

/** Gives a response a score; undefined means it cannot be scored (counted as "unscored"). */
export type Scorer = (response: Response) => number | undefined;

/** The gold number of a GSM8K reference: a worked solution's "#### N", or a bare number. */
function gsm8kGold(reference: string): string | undefined {
  const hashes = /####\s*(.+)\s*$/u.exec(reference);
  const number = extractFlexible(hashes ? hashes[1]! : reference);
  return number === undefined ? undefined : normalizeNumber(number);
}

const SCORERS: Record<string, Scorer> = {
  /** The reward or verdict the record already carries (Response.score). */
  record: (response) => response.score,
  /** GSM8K: 1 when the final number (flexible extraction) equals the reference's, else 0. */
  gsm8k: (response) => {
    const gold = gsm8kGold(response.reference);
    return gold === undefined ? undefined : scoreGsm8k({ gold }, response.text).score;
  },
  /** MATH-style: 1 when the final answer is equivalent to the reference's, else 0. */
  math: (response) => {
    if (!response.reference.trim()) return undefined;
    const answer = extractMathAnswer(response.reference) ?? response.reference.trim();
    return scoreMath({ answer }, response.text).score;
  },
};

/** Names a ScorePolicy.scorer may take. */
export const SCORER_NAMES: readonly string[] = Object.keys(SCORERS);

/** The scorer of a name; callers validate the name against SCORER_NAMES first. */
export function scorerFor(name: string): Scorer {
  const scorer = SCORERS[name];
  if (!scorer) throw new Error(`unknown scorer "${name}"`);
  return scorer;
}
