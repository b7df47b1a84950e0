// Scores one IFEval response: every instruction of its prompt, strictly and loosely. Loose
// scoring gives a response eight chances, as the benchmark defines: as written, without its
// first line, without its last, without both, and each of those without markdown asterisks.
import { buildInstruction, type InstructionCheck, type InstructionSpec } from './instructions.js';

/** One IFEval prompt ready to score: its instruction ids and the checks built from their kwargs. */
export interface IfEvalItem {
  key: string;
  prompt: string;
  instructionIds: string[];
  checks: InstructionCheck[];
}

/** Per-instruction verdicts for one response, in the order of the prompt's instruction list. */
export interface IfEvalVerdict {
  strict: boolean[];
  loose: boolean[];
}

/** Builds an item's checks once, so a response file is scored without re-parsing kwargs. */
export function buildIfEvalItem(
  key: string,
  prompt: string,
  specs: Omit<InstructionSpec, 'prompt'>[],
): IfEvalItem {
  return {
    key,
    prompt,
    instructionIds: specs.map((s) => s.id),
    checks: specs.map((s) => buildInstruction({ ...s, prompt })),
  };
}

/** The eight variants of a response that loose scoring tries, the response itself first. */
export function looseVariants(response: string): string[] {
  const lines = response.split('\n');
  const withoutFirst = lines.slice(1).join('\n').trim();
  const withoutLast = lines.slice(0, -1).join('\n').trim();
  const withoutBoth = lines.slice(1, -1).join('\n').trim();
  const variants = [response, withoutFirst, withoutLast, withoutBoth];
  return [
    variants[0]!,
    stripStars(variants[0]!),
    ...variants.slice(1),
    ...variants.slice(1).map(stripStars),
  ];
}

/** Applies every check strictly and loosely; an empty response follows nothing. */
export function scoreIfEval(item: IfEvalItem, response: string): IfEvalVerdict {
  const variants = looseVariants(response).filter((v) => v.trim());
  const strict = item.checks.map((check) => response.trim() !== '' && check(response));
  const loose = item.checks.map((check, i) => strict[i]! || variants.some((v) => check(v)));
  return { strict, loose };
}

function stripStars(text: string): string {
  return text.replaceAll('*', '');
}
