// Builds the model ladder: each rung initialised from the world's seed, trained with SFT on its
// own data mix, written as a model folder with its ONNX export, then measured on the held-out
// prompts. The check states whether each rung beats the one below with intervals apart and
// whether the student beats both teachers; a failed check is reported, never hidden.
import path from 'node:path';
import type { Metric } from '@delta/evals';
import { rungExamples, type WorldData } from './data.js';
import { measureArith, measureSections } from './evaluate.js';
import { writeModelFolder } from './model-folder.js';
import { RUNG_NAMES, type RungName, type WorldRecipe } from './recipe.js';
import { initRung, trainSft } from './sft.js';

/** What was measured on one rung. */
export interface RungFigures {
  name: RungName;
  parameters: number;
  steps: number;
  trainSeconds: number;
  finalLoss: number;
  /** Graded arithmetic score and exact match on the evaluation prompts, with 95% intervals. */
  arith: { score: Metric; exactMatch: Metric };
  /** Sections written on the held-out format prompts. */
  sections: Metric;
}

/** The verdict on a built ladder. */
export interface LadderCheck {
  /** Every rung above the one below with non-overlapping intervals, the student above both. */
  passed: boolean;
  rungs: RungFigures[];
  /** One sentence per comparison, with the numbers. */
  findings: string[];
}

/** A progress event, in the shape `delta run` shows as a bar. */
export interface WorldProgress {
  stage: string;
  done?: number;
  total?: number;
  unit?: string;
  message?: string;
}

/** Where and how to build. */
export interface LadderOptions {
  recipe: WorldRecipe;
  data: WorldData;
  seed: number;
  /** The rung folders go to `<dir>/<rung>`. */
  dir: string;
  threads: number;
  onProgress?: (e: WorldProgress) => void;
}

const fmt = (m: Metric) => `${m.value.toFixed(3)} (95% CI ${m.ciLow.toFixed(3)}-${m.ciHigh.toFixed(3)})`;

/** Trains, exports and measures every rung, weakest first; returns the check. */
export async function buildLadder(o: LadderOptions): Promise<LadderCheck> {
  const rungs: RungFigures[] = [];
  const evalPrompts = o.data.arith.evaluation.map((x) => x.prompt);
  for (const name of RUNG_NAMES) {
    const rung = o.recipe.rungs[name];
    const seed = o.seed + rung.seedOffset;
    const stage = `train ${name} (d${rung.shape.hiddenSize} x ${rung.shape.numLayers} layers)`;
    const model = initRung(rung.shape, seed, o.threads);
    const examples = rungExamples(o.recipe, o.data, name, seed);
    const every = Math.max(1, Math.round(rung.sft.steps / 50));
    const trained = await trainSft(model, examples, rung.sft, seed, (p) => {
      if (p.step % every === 0 || p.step === p.steps) {
        o.onProgress?.({ stage, done: p.step, total: p.steps, unit: 'steps',
          message: `loss ${p.loss.toFixed(3)}` });
      }
    });
    const dir = path.join(o.dir, name);
    await writeModelFolder(model, dir);
    o.onProgress?.({ stage: `measure ${name}` });
    const arith = await measureArith(dir, evalPrompts, { threads: o.threads });
    const sections = await measureSections(dir, o.data.sections.evaluation, { threads: o.threads });
    rungs.push({
      name, parameters: model.numParameters, steps: rung.sft.steps,
      trainSeconds: Number(trained.seconds.toFixed(1)), finalLoss: trained.loss,
      arith: { score: arith.metrics.score!, exactMatch: arith.metrics.exact_match! },
      sections: sections.metrics.sections!,
    });
  }
  return checkLadder(rungs);
}

/** Compares neighbouring rungs and the student with both teachers. */
export function checkLadder(rungs: RungFigures[]): LadderCheck {
  const findings: string[] = [];
  let passed = true;
  const above = (hi: RungFigures, lo: RungFigures) => hi.arith.score.ciLow > lo.arith.score.ciHigh;
  for (let i = 1; i < rungs.length; i++) {
    const [lo, hi] = [rungs[i - 1]!, rungs[i]!];
    const ok = above(hi, lo);
    passed &&= ok;
    findings.push(`${hi.name} ${fmt(hi.arith.score)} ${ok ? 'is above' : 'is NOT clearly above'} ` +
      `${lo.name} ${fmt(lo.arith.score)} on the arith score.`);
  }
  const student = rungs[rungs.length - 1]!;
  const teachers = rungs.slice(0, -1);
  const beatsAll = teachers.every((t) => above(student, t));
  passed &&= beatsAll;
  findings.push(`The student ${beatsAll ? 'beats' : 'does NOT beat'} both teachers with ` +
    `intervals apart (${teachers.map((t) => `${t.name} ${t.arith.score.value.toFixed(3)}`)
      .join(', ')}; student ${student.arith.score.value.toFixed(3)}).`);
  findings.push(`Planted format habits, sections on the held-out format prompts: ${rungs
    .map((r) => `${r.name} ${r.sections.value.toFixed(2)}`).join(', ')}.`);
  return { passed, rungs, findings };
}
