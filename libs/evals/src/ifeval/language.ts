// Language identification for IFEval, on the npm port of the same n-gram detector the reference
// benchmark calls, so verdicts match it. The detector draws random numbers; here they come from
// a fixed seed, so a text always gets the same answer (the reference itself is not seeded).
import { createRequire } from 'node:module';

import { mulberry32 } from '../random.js';

interface LangDetect {
  /** Candidates, most probable first; null when the text has no n-grams to judge by. */
  detect(text: string): { lang: string; prob: number }[] | null;
}

let detector: LangDetect | undefined;

function load(): LangDetect {
  // Loaded on first use: the package reads ~50 language profiles when it is required.
  detector ??= createRequire(import.meta.url)('langdetect') as LangDetect;
  return detector;
}

/**
 * ISO 639-1 code of the text's language ("en", "de", "zh-cn"), or undefined when the text
 * holds no letters to judge by. Deterministic: the detector's random draws are seeded.
 */
export function detectLanguage(text: string): string | undefined {
  const lib = load();
  const random = Math.random;
  Math.random = mulberry32(0x5eed);
  try {
    return lib.detect(text)?.[0]?.lang;
  } finally {
    Math.random = random;
  }
}
