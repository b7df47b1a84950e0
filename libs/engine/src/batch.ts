// Turns tokenized examples into the padded [B, T] arrays the engine runs on. A sequence is
// prompt + response; row t predicts token t + 1 and carries a target only when that token
// belongs to the response, so prompts and padding never enter a log-prob. Padding side and
// pad id change which cells are padding, never a result.
import { EngineError } from './errors.js';
import type { NativeBatch } from './native.js';

/** A prompt and one response to it, as token ids (the prompt includes any BOS and template). */
export interface ScoredSequence {
  prompt: readonly number[];
  response: readonly number[];
}

/** A preference pair: one prompt, the chosen and the rejected response, as token ids. */
export interface PreferencePair {
  prompt: readonly number[];
  chosen: readonly number[];
  rejected: readonly number[];
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
      throw new EngineError('INVALID_ARGUMENT', `${where}: token ${i} is ${id}, outside the vocabulary [0, ${vocab})`);
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
    throw new EngineError('INVALID_ARGUMENT', `padId ${padding.padId} is outside the vocabulary [0, ${vocab})`);
  }
  let T = 1;
  seqs.forEach((s, i) => {
    if (s.prompt.length === 0) {
      throw new EngineError('INVALID_ARGUMENT', `${label(i)}: the prompt is empty; it needs at least a BOS token to predict the first response token from`);
    }
    checkIds(s.prompt, vocab, `${label(i)} prompt`);
    checkIds(s.response, vocab, `${label(i)} response`);
    const len = s.prompt.length + s.response.length;
    if (len > maxLength) {
      throw new EngineError('INVALID_ARGUMENT', `${label(i)}: ${len} tokens exceed maxLength ${maxLength}; truncate before batching`);
    }
    T = Math.max(T, len);
  });

  const B = seqs.length;
  const ids = new Int32Array(B * T).fill(padding.padId);
  const positions = new Int32Array(B * T);
  const mask = new Int32Array(B * T);
  const targets = new Int32Array(B * T).fill(-1);
  seqs.forEach((s, b) => {
    const len = s.prompt.length + s.response.length;
    const start = b * T + (padding.padSide === 'left' ? T - len : 0);
    for (let t = 0; t < len; t++) {
      const id = t < s.prompt.length ? s.prompt[t]! : s.response[t - s.prompt.length]!;
      ids[start + t] = id;
      positions[start + t] = t;
      mask[start + t] = 1;
      if (t >= s.prompt.length) targets[start + t - 1] = id;
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
      throw new EngineError('INVALID_ARGUMENT', `inputIds[${b}] has ${row.length} tokens, row 0 has ${T}`);
    }
    let seen = 0;
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t]!;
      const m = attentionMask ? attentionMask[b]?.[t] : 1;
      if (m !== 0 && m !== 1) throw new EngineError('INVALID_ARGUMENT', `attentionMask[${b}][${t}] is not 0 or 1`);
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
