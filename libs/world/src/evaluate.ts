// Measures a model folder on the world's tasks the way the evaluator service does: greedy
// decoding on ONNX Runtime (@delta/lm) from the chat-templated prompt, replies scored by the
// tasks' own scorers in @delta/evals, means with 95% bootstrap intervals. For the ladder check
// and for tuning; it writes nothing.
import { arith, bootstrapMetric, parseArithPrompt, scoreArith, sections,
  type Metric } from '@delta/evals';
import { LanguageModel } from '@delta/lm';
import { WorldError } from './errors.js';

/** A task's figures for one model, and each item's score for paired comparisons. */
export interface TaskFigures {
  metrics: Record<string, Metric>;
  /** Per-item primary score, in the order of the prompts given. */
  items: number[];
  /** The replies, in the same order. */
  responses: string[];
}

/** Decoding settings of a measurement. */
export interface MeasureOptions {
  threads?: number;
  batchSize?: number;
  maxNewTokens?: number;
  bootstrapSamples?: number;
}

async function generate(dir: string, prompts: readonly string[], options: MeasureOptions,
  maxNewTokens: number): Promise<{ text: string }[]> {
  const lm = await LanguageModel.load(dir, { threads: options.threads ?? 2 });
  try {
    const results = await lm.generate(
      prompts.map((p, i) => ({ id: String(i), messages: [{ role: 'user', content: p }],
        maxNewTokens, sampling: { temperature: 0 } })),
      { batchSize: options.batchSize ?? 64 },
    );
    return results.map(([r]) => ({ text: r!.text }));
  } finally {
    await lm.decoder.dispose();
  }
}

/** Greedy replies of the model folder `dir` to arithmetic prompts, graded. */
export async function measureArith(dir: string, prompts: readonly string[],
  options: MeasureOptions = {}): Promise<TaskFigures> {
  const replies = await generate(dir, prompts, options,
    options.maxNewTokens ?? arith.sampling.maxNewTokens!);
  const verdicts = prompts.map((p, i) => {
    const problem = parseArithPrompt(p);
    if (!problem) throw new WorldError('INVALID_PROMPT', `${p} is not an arithmetic prompt`);
    return scoreArith(problem, replies[i]!.text);
  });
  const boot = { samples: options.bootstrapSamples ?? 1000, seed: 0 };
  return {
    metrics: {
      score: bootstrapMetric('score', verdicts.map((v) => ({ num: v.score, den: 1 })), boot),
      exact_match: bootstrapMetric('exact_match',
        verdicts.map((v) => ({ num: v.exact ? 1 : 0, den: 1 })), boot),
    },
    items: verdicts.map((v) => v.score),
    responses: replies.map((r) => r.text),
  };
}

/**
 * Greedy replies to format prompts, scored by the sections task: the section count and how
 * often a reply was cut by the token limit.
 */
export async function measureSections(dir: string, prompts: readonly string[],
  options: MeasureOptions = {}): Promise<TaskFigures> {
  const replies = await generate(dir, prompts, options,
    options.maxNewTokens ?? sections.sampling.maxNewTokens!);
  const scored = replies.map((r, i) =>
    sections.score({ id: String(i), text: prompts[i]!, line: i + 1, prompt: prompts[i]! }, r.text));
  const boot = { samples: options.bootstrapSamples ?? 1000, seed: 0 };
  return {
    metrics: {
      sections: bootstrapMetric('sections', scored.map((s) => s.values.sections!), boot),
      hit_cap: bootstrapMetric('hit_cap', scored.map((s) => s.values.hit_cap!), boot),
    },
    items: scored.map((s) => s.score),
    responses: replies.map((r) => r.text),
  };
}
