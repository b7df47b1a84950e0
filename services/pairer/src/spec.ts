// Checks a PairingSpec before its job is queued, fills its defaults in place (topics, the ladder
// order, resolved paths), and turns a checked spec into a runnable Policy. Every problem is
// reported at once, by proto field path.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PAIRS_TOPIC, RESPONSES_TOPIC, type PairingSpec } from '@delta/contracts';
import { Violations } from '@delta/rpc';
import type { ServiceContext } from '@delta/service';
import type { PairerConfig } from './config.js';
import { IMPORT_FORMATS } from './importer.js';
import {
  adjacentRungs, ladderPolicy, scorePolicy, sizeFromConfig, sizeFromName, type Policy, type Rungs,
} from './policy.js';
import { SCORER_NAMES, scorerFor } from './scorers.js';

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/u;
const WEEK_MS = 7 * 24 * 3600 * 1000;
const MAX_RUNG_PAIRS = 256;

/** A model's parameter count: its config.json under a model root, else its name. */
function modelSize(model: string, modelRoots: readonly string[]): number | undefined {
  for (const root of modelRoots) {
    const file = path.join(root, model, 'config.json');
    if (!path.resolve(file).startsWith(path.resolve(root) + path.sep) || !existsSync(file)) continue;
    try {
      const size = sizeFromConfig(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
      if (size !== undefined) return size;
    } catch {
      // An unreadable config says nothing about size; the name may still.
    }
  }
  return sizeFromName(model);
}

/** Ranks models best first by parameter count; names the models it cannot rank. */
export function rankBySize(
  models: readonly string[],
  modelRoots: readonly string[],
  v: Violations,
): string[] | undefined {
  const sized = models.map((model) => ({ model, size: modelSize(model, modelRoots) }));
  const unknown = sized.filter((s) => s.size === undefined).map((s) => s.model);
  if (unknown.length > 0) {
    v.add('spec.ladder.order', `required: cannot rank ${unknown.join(', ')} by parameter count ` +
      '(no size such as "1.5B" in the name, no config.json under the model roots)');
    return undefined;
  }
  const sizes = new Map<number, string>();
  for (const s of sized) {
    const twin = sizes.get(s.size!);
    if (twin) {
      v.add('spec.ladder.order', `required: ${twin} and ${s.model} have the same parameter count`);
      return undefined;
    }
    sizes.set(s.size!, s.model);
  }
  return sized.sort((a, b) => b.size! - a.size!).map((s) => s.model);
}

function checkModels(spec: PairingSpec, config: PairerConfig, v: Violations): void {
  const seen = new Set<string>();
  spec.models.forEach((model, i) => {
    if (!model.trim()) v.add(`spec.models[${i}]`, 'required');
    else if (seen.has(model)) v.add(`spec.models[${i}]`, `"${model}" is listed twice`);
    seen.add(model);
  });
  v.atMost('spec.models', spec.models.length, config.maxModels);
}

function checkLadder(spec: PairingSpec, roots: readonly string[], v: Violations): void {
  if (spec.policy.case !== 'ladder') return;
  const ladder = spec.policy.value;
  if (ladder.order.length === 0 && spec.models.length > 0) {
    ladder.order = rankBySize(spec.models, roots, v) ?? [];
  }
  if (spec.models.length === 0) spec.models = [...ladder.order];
  if (spec.models.length < 2) {
    v.add('spec.models', 'a ladder needs at least two models');
    return;
  }
  const sameSet = ladder.order.length === spec.models.length
    && spec.models.every((m) => ladder.order.includes(m));
  if (ladder.order.length > 0 && !sameSet) {
    v.add('spec.ladder.order', 'must rank exactly the models of spec.models');
    return;
  }
  v.atMost('spec.ladder.pairs', ladder.pairs.length, MAX_RUNG_PAIRS);
  const rank = new Map(ladder.order.map((m, i) => [m, i]));
  const seen = new Set<string>();
  ladder.pairs.forEach((pair, i) => {
    const field = `spec.ladder.pairs[${i}]`;
    for (const side of ['chosen', 'rejected'] as const) {
      if (!rank.has(pair[side])) v.add(`${field}.${side}`, `"${pair[side]}" is not in spec.models`);
    }
    const chosen = rank.get(pair.chosen);
    const rejected = rank.get(pair.rejected);
    if (chosen === undefined || rejected === undefined) return;
    if (chosen >= rejected) {
      v.add(field, `"${pair.chosen}" does not rank above "${pair.rejected}" in spec.ladder.order`);
    }
    const key = `${pair.chosen}\0${pair.rejected}`;
    if (seen.has(key)) v.add(field, 'listed twice');
    seen.add(key);
  });
}

function checkScore(spec: PairingSpec, v: Violations): void {
  if (spec.policy.case !== 'score') return;
  const score = spec.policy.value;
  v.oneOf('spec.score.scorer', score.scorer, SCORER_NAMES);
  if (!Number.isFinite(score.minMargin) || score.minMargin < 0) {
    v.add('spec.score.min_margin', `${score.minMargin} is not a number >= 0`);
  }
  if (spec.models.length < 2) v.add('spec.models', 'the score policy needs at least two models');
}

/**
 * Validates a spec and fills defaults in place: topic names, the ladder order (by parameter
 * count when not given), spec.models from the order, and the import and export paths resolved
 * inside the data and output roots (PERMISSION_DENIED outside them).
 */
export async function prepareSpec(
  spec: PairingSpec,
  ctx: Pick<ServiceContext, 'roots'>,
  config: PairerConfig,
): Promise<void> {
  const v = new Violations();
  spec.responsesTopic ||= RESPONSES_TOPIC;
  spec.pairsTopic ||= PAIRS_TOPIC;
  for (const [field, name] of [['spec.responses_topic', spec.responsesTopic],
    ['spec.pairs_topic', spec.pairsTopic]] as const) {
    if (!TOPIC_NAME.test(name)) {
      v.add(field, `"${name}" is not a topic name (letters, digits, . _ -)`);
    }
  }
  if (spec.responsesTopic === spec.pairsTopic) {
    v.add('spec.pairs_topic', 'must differ from spec.responses_topic');
  }

  checkModels(spec, config, v);
  if (spec.policy.case === undefined) v.add('spec.policy', 'required: give ladder or score');
  checkLadder(spec, ctx.roots.models, v);
  checkScore(spec, v);
  v.atMost('spec.missing_side_timeout_ms', spec.missingSideTimeoutMs, WEEK_MS);

  if (spec.import) {
    v.oneOf('spec.import.format', spec.import.format, IMPORT_FORMATS);
    if (v.required('spec.import.file', spec.import.file)) {
      spec.import.file = await ctx.roots.resolveData(spec.import.file, 'spec.import.file');
    }
  }
  if (spec.exportFile) {
    spec.exportFile = await ctx.roots.resolveOutput(spec.exportFile, 'spec.export_file');
  }
  v.throwIfAny();
}

/** The policy of a prepared spec. */
export function policyOf(spec: PairingSpec): Policy {
  const filters = { keepIdentical: spec.keepIdentical, keepTruncated: spec.keepTruncated };
  if (spec.policy.case === 'score') {
    const { scorer, minMargin } = spec.policy.value;
    return scorePolicy(spec.models, scorerFor(scorer), minMargin, filters);
  }
  const ladder = spec.policy.value!;
  const rungs: Rungs = ladder.pairs.length > 0
    ? ladder.pairs.map((p) => [p.chosen, p.rejected] as const)
    : adjacentRungs(ladder.order);
  return ladderPolicy(rungs, filters);
}
