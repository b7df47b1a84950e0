// Pairing policies: given the responses of the configured models to one prompt (one sample),
// decide which pairs to emit and why the others are dropped. The model ladder prefers the
// higher rung; the score policy prefers the higher score. Pure functions, no I/O.
import { createHash } from 'node:crypto';
import { FinishReason, type Response } from '@delta/contracts';
import type { Scorer } from './scorers.js';

/** Why a candidate pair (or a response) was not emitted; keys of PairingStatus.dropped. */
export type DropReason =
  | 'missing_side'
  | 'empty'
  | 'truncated'
  | 'identical'
  | 'below_margin'
  | 'unscored'
  | 'duplicate'
  | 'unused_model';

/** A decided pair: which response is chosen and which rejected, with their scores if any. */
export interface Decision {
  chosen: Response;
  rejected: Response;
  chosenScore?: number;
  rejectedScore?: number;
}

/** What a policy makes of one prompt's responses. */
export interface Resolution {
  pairs: Decision[];
  dropped: Partial<Record<DropReason, number>>;
}

/** Filters every policy applies to a candidate pair. */
export interface Filters {
  keepIdentical: boolean;
  keepTruncated: boolean;
}

/** A policy ready to run: its name on the Pair record, the models it waits for, and its rule. */
export interface Policy {
  readonly name: 'ladder' | 'score';
  /** Models whose responses complete a prompt; a prompt resolves once all have answered. */
  readonly models: readonly string[];
  /** `responses` holds the models that answered: all of them, or fewer once time is up. */
  resolve(responses: ReadonlyMap<string, Response>): Resolution;
}

/** Rung pairs as [chosen, rejected] model names. */
export type Rungs = ReadonlyArray<readonly [string, string]>;

function textFilter(chosen: Response, rejected: Response, filters: Filters): DropReason | undefined {
  if (!chosen.text.trim() || !rejected.text.trim()) return 'empty';
  const cut = (r: Response) => r.finishReason === FinishReason.LENGTH;
  if (!filters.keepTruncated && (cut(chosen) || cut(rejected))) return 'truncated';
  if (!filters.keepIdentical && chosen.text.trim() === rejected.text.trim()) return 'identical';
  return undefined;
}

function count(dropped: Resolution['dropped'], reason: DropReason): void {
  dropped[reason] = (dropped[reason] ?? 0) + 1;
}

/** The paper's ladder: for each rung pair, the higher rung's response is chosen. */
export function ladderPolicy(rungs: Rungs, filters: Filters): Policy {
  const models = [...new Set(rungs.flat())];
  return {
    name: 'ladder',
    models,
    resolve(responses) {
      const out: Resolution = { pairs: [], dropped: {} };
      for (const [chosenModel, rejectedModel] of rungs) {
        const chosen = responses.get(chosenModel);
        const rejected = responses.get(rejectedModel);
        if (!chosen || !rejected) {
          count(out.dropped, 'missing_side');
          continue;
        }
        const reason = textFilter(chosen, rejected, filters);
        if (reason) count(out.dropped, reason);
        else out.pairs.push({ chosen, rejected });
      }
      return out;
    },
  };
}

/**
 * Best over worst by a scorer: the highest-scored response is chosen, the lowest rejected, when
 * the difference exceeds `minMargin`. Ties go to the model listed first for chosen and last for
 * rejected, so the outcome does not depend on arrival order.
 */
export function scorePolicy(
  models: readonly string[],
  scorer: Scorer,
  minMargin: number,
  filters: Filters,
): Policy {
  return {
    name: 'score',
    models,
    resolve(responses) {
      const out: Resolution = { pairs: [], dropped: {} };
      const present = models.filter((m) => responses.has(m));
      if (present.length < 2) {
        count(out.dropped, 'missing_side');
        return out;
      }
      const scored = present
        .map((model) => ({ response: responses.get(model)!, score: scorer(responses.get(model)!) }))
        .filter((s): s is { response: Response; score: number } =>
          s.score !== undefined && Number.isFinite(s.score));
      if (scored.length < 2) {
        count(out.dropped, 'unscored');
        return out;
      }
      let best = scored[0]!;
      let worst = scored[0]!;
      for (const s of scored) {
        if (s.score > best.score) best = s;
        if (s.score <= worst.score) worst = s;
      }
      const reason = textFilter(best.response, worst.response, filters)
        ?? (best.score - worst.score > minMargin ? undefined : 'below_margin');
      if (reason) count(out.dropped, reason);
      else {
        out.pairs.push({ chosen: best.response, rejected: worst.response,
          chosenScore: best.score, rejectedScore: worst.score });
      }
      return out;
    },
  };
}

/**
 * The pair id: a hash of run, prompt, sample and the two models, so a replayed or re-run pair
 * has the same id and consumers can drop duplicates. SHA-256 of the five fields joined by NUL,
 * first 16 bytes as hex.
 */
export function pairId(
  runId: string, promptId: string, sampleIndex: number, chosen: string, rejected: string,
): string {
  return createHash('sha256')
    .update([runId, promptId, String(sampleIndex), chosen, rejected].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

/**
 * A parameter count written in a model's name ("Qwen2.5-1.5B-Instruct" 1.5e9, "175b_verification"
 * 1.75e11, "stories260k" 2.6e5): the last number followed by k, m, b or t. Undefined when none.
 */
export function sizeFromName(name: string): number | undefined {
  const scale: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9, t: 1e12 };
  const matches = [...name.matchAll(/(\d+(?:\.\d+)?)([kmbt])(?![a-z])/giu)];
  const last = matches[matches.length - 1];
  return last ? Number(last[1]) * scale[last[2]!.toLowerCase()]! : undefined;
}

/**
 * Parameters of a Llama-family decoder from its config.json fields; enough to rank a ladder.
 * Undefined when a field it needs is missing.
 */
export function sizeFromConfig(config: Record<string, unknown>): number | undefined {
  const n = (key: string) => (typeof config[key] === 'number' ? config[key] as number : undefined);
  const h = n('hidden_size');
  const inter = n('intermediate_size');
  const layers = n('num_hidden_layers');
  const vocab = n('vocab_size');
  const heads = n('num_attention_heads');
  if (!h || !inter || !layers || !vocab || !heads) return undefined;
  const headDim = n('head_dim') ?? h / heads;
  const kvHeads = n('num_key_value_heads') ?? heads;
  const attention = h * heads * headDim * 2 + h * kvHeads * headDim * 2;
  const perLayer = attention + 3 * h * inter + 2 * h;
  const embeddings = vocab * h * (config['tie_word_embeddings'] === true ? 1 : 2);
  return embeddings + layers * perLayer + h;
}

/** Each adjacent pair of rungs of an order (best first): [a, b], [b, c], ... */
export function adjacentRungs(order: readonly string[]): Array<[string, string]> {
  return order.slice(1).map((rejected, i) => [order[i]!, rejected]);
}
