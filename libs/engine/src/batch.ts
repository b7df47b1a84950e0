// Turns tokenized examples into the padded [B, T] arrays the engine runs on. A sequence is
// prompt + response (or ids with a loss mask); row t predicts token t + 1 and carries a target
// only when that token is scored, so prompts and padding never enter a log-prob. Padding side and
// pad id change which cells are padding, never a result.
import { EngineError } from './errors.js';
import type { NativeBatch } from './native.js';

/** A prompt and one response to it, as token ids (the prompt includes any BOS and template). */
export interface PromptResponse {
  prompt: readonly number[];
  response: readonly number[];
}

/**
 * A whole sequence with a loss mask: lossMask[t] = 1 scores token t (predicted from the
 * tokens before it). For multi-turn data, where responses alternate with other text.
 */
export interface MaskedSequence {
  ids: readonly number[];
  lossMask: readonly number[];
}

/** A sequence to score: a prompt and response, or whole ids with a loss mask. */
export type ScoredSequence = PromptResponse | MaskedSequence;

/** A preference pair: one prompt, the chosen and the rejected response, as token ids. */
export interface PromptPair {
  prompt: readonly number[];
  chosen: readonly number[];
  rejected: readonly number[];
}

/** A preference pair given as two whole sequences with loss masks. */
export interface MaskedPair {
  chosen: MaskedSequence;
  rejected: MaskedSequence;
}

/** Either form of a preference pair. */
export type PreferencePair = PromptPair | MaskedPair;

/** The pair's two sides as sequences to score. */
export function pairSides(p: PreferencePair): [ScoredSequence, ScoredSequence] {
  if ('prompt' in p) {
    return [{ prompt: p.prompt, response: p.chosen }, { prompt: p.prompt, response: p.rejected }];
  }
  return [p.chosen, p.rejected];
}

/** The number of scored tokens of a sequence (0 means an empty response). */
export function scoredTokens(s: ScoredSequence): number {
  return 'prompt' in s ? s.response.length : s.lossMask.reduce((a, m) => a + (m ? 1 : 0), 0);
}

/** Token ids and loss mask of either form, checked. */
function masked(s: ScoredSequence, where: string): MaskedSequence {
  if ('prompt' in s) {
    if (s.prompt.length === 0) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${where}: the prompt is empty; it needs at least a BOS token to predict the first ` +
          `response token from`,
      );
    }
    return {
      ids: [...s.prompt, ...s.response],
      lossMask: [...s.prompt.map(() => 0), ...s.response.map(() => 1)],
    };
  }
  if (s.lossMask.length !== s.ids.length) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `${where}: lossMask has ${s.lossMask.length} entries for ${s.ids.length} ids`,
    );
  }
  if (s.lossMask[0]) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `${where}: lossMask[0] is set, but the first token has nothing to be predicted from`,
    );
  }
  s.lossMask.forEach((m, t) => {
    if (m !== 0 && m !== 1) {
      throw new EngineError('INVALID_ARGUMENT', `${where}: lossMask[${t}] is not 0 or 1`);
    }
  });
  return s;
}

/** Where padding goes and which id fills it. */
export interface PaddingOptions {
  padSide: 'left' | 'right';
  padId: number;
}

function checkIds(ids: readonly number[], vocab: number, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${where}: token ${i} is ${id}, outside the vocabulary [0, ${vocab})`,
      );
    }
  }
}

/**
 * Packs sequences into one padded batch, T = the longest sequence. `label(i)` names sequence
 * i in errors ("pair 3, chosen"). Sequences longer than maxLength are rejected, not cut:
 * truncation policy belongs to the caller, who knows which side may lose tokens.
 */
export function packSequences(
  seqs: readonly ScoredSequence[],
  vocab: number,
  padding: PaddingOptions,
  maxLength: number,
  label: (i: number) => string,
): NativeBatch {
  if (!Number.isInteger(padding.padId) || padding.padId < 0 || padding.padId >= vocab) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `padId ${padding.padId} is outside the vocabulary [0, ${vocab})`,
    );
  }
  const all = seqs.map((s, i) => masked(s, label(i)));
  let T = 1;
  all.forEach((s, i) => {
    checkIds(s.ids, vocab, label(i));
    if (s.ids.length > maxLength) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `${label(i)}: ${s.ids.length} tokens exceed maxLength ${maxLength}; truncate before ` +
          `batching`,
      );
    }
    T = Math.max(T, s.ids.length);
  });

  const B = all.length;
  const ids = new Int32Array(B * T).fill(padding.padId);
  const positions = new Int32Array(B * T);
  const mask = new Int32Array(B * T);
  const targets = new Int32Array(B * T).fill(-1);
  all.forEach((s, b) => {
    const len = s.ids.length;
    const start = b * T + (padding.padSide === 'left' ? T - len : 0);
    for (let t = 0; t < len; t++) {
      ids[start + t] = s.ids[t]!;
      positions[start + t] = t;
      mask[start + t] = 1;
      if (s.lossMask[t]) targets[start + t - 1] = s.ids[t]!;
    }
  });
  return { B, T, ids, positions, mask, targets };
}

/** Flattens rows of equal length into [B, T]; positions default to the count of earlier tokens. */
export function packInputs(
  inputIds: readonly (readonly number[])[],
  attentionMask?: readonly (readonly number[])[],
  positionIds?: readonly (readonly number[])[],
): NativeBatch {
  const B = inputIds.length;
  const T = inputIds[0]?.length ?? 0;
  if (B === 0 || T === 0) throw new EngineError('INVALID_ARGUMENT', 'inputIds is empty');
  const ids = new Int32Array(B * T);
  const mask = new Int32Array(B * T).fill(1);
  const positions = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const row = inputIds[b]!;
    if (row.length !== T) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `inputIds[${b}] has ${row.length} tokens, row 0 has ${T}`,
      );
    }
    let seen = 0;
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t]!;
      const m = attentionMask ? attentionMask[b]?.[t] : 1;
      if (m !== 0 && m !== 1) {
        throw new EngineError('INVALID_ARGUMENT', `attentionMask[${b}][${t}] is not 0 or 1`);
      }
      mask[b * T + t] = m;
      const p = positionIds ? positionIds[b]?.[t] : Math.max(0, seen + m - 1);
      if (p === undefined || !Number.isInteger(p) || p < 0) {
        throw new EngineError('INVALID_ARGUMENT', `positionIds[${b}][${t}] is missing or negative`);
      }
      positions[b * T + t] = p;
      seen += m;
    }
  }
  return { B, T, ids, positions, mask };
}
