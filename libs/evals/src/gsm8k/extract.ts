// Final-answer extraction for grade-school math. Strict reads only the declared answer
// ("#### N" or "The answer is N"); flexible takes the last number written anywhere, in any of
// the ways people write numbers ("A: 1,200", "$1,200.", "-3", "3.50").

/** A number as written: optional sign and dollar sign, thousands commas, decimals. */
const NUMBER = String.raw`(?<![\p{L}\p{N}.])-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?`;
const ANY_NUMBER = new RegExp(NUMBER, 'gu');
const HASHES = new RegExp(String.raw`####\s*(${NUMBER})`, 'u');
const ANSWER_IS = new RegExp(String.raw`the (?:final )?answer is[:\s]*\**\s*(${NUMBER})`, 'iu');

/** The declared answer: the first "#### N", else the first "The answer is N"; normalised. */
export function extractStrict(text: string): string | undefined {
  const m = HASHES.exec(text) ?? ANSWER_IS.exec(text);
  return m ? normalizeNumber(m[1]!) : undefined;
}

/** The last number in the text, normalised; reads "A: N", "$1,200." and the like. */
export function extractFlexible(text: string): string | undefined {
  const all = text.match(ANY_NUMBER);
  return all ? normalizeNumber(all[all.length - 1]!) : undefined;
}

/**
 * Canonical decimal form so equal numbers compare equal as strings: no "$", commas or spaces,
 * no trailing fractional zeros, no "-0" ("$1,200.50" -> "1200.5", "3.00" -> "3").
 */
export function normalizeNumber(raw: string): string {
  let s = raw.replace(/[$,\s]/gu, '');
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  let [whole = '', fraction = ''] = s.split('.');
  whole = whole.replace(/^0+(?=\d)/u, '');
  fraction = fraction.replace(/0+$/u, '');
  const body = fraction ? `${whole}.${fraction}` : whole;
  return negative && /[1-9]/u.test(body) ? `-${body}` : body;
}

/** The gold answer of a GSM8K reference solution: the number after its "####". */
export function goldAnswer(solution: string): string | undefined {
  const m = HASHES.exec(solution);
  return m ? normalizeNumber(m[1]!) : undefined;
}
