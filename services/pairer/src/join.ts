// The join of one pairing job: responses wait per (run, prompt, sample) until every model the
// policy needs has answered (or time is up), then the policy turns them into pairs and drops.
// Changes are made in a JoinStep against the committed state and applied only once the
// transaction carrying them has committed, so a failed transaction leaves the state untouched.
// It does no I/O: the step's outputs are records for the caller to write.
import { clone, create } from '@bufbuild/protobuf';
import {
  CompletionSchema, PairSchema, PairingStatusSchema, type Completion, type Pair,
  type PairingStatus, type Response,
} from '@delta/contracts';
import { pairId, type DropReason, type Policy } from './policy.js';

/** The responses a prompt (one sample of it) has so far. */
export interface PendingPrompt {
  readonly runId: string;
  readonly promptId: string;
  readonly sampleIndex: number;
  /** By model name. */
  readonly responses: Map<string, Response>;
  /** W3C traceparent each response's record carried, by model name, where it had one. */
  readonly traces: Map<string, string>;
  /** When its first response arrived (ms since the epoch), for the missing-side timeout. */
  since: number;
}

/** Identifies a join: one sample of one prompt in one run. */
export function joinKey(runId: string, promptId: string, sampleIndex: number): string {
  return JSON.stringify([runId, promptId, sampleIndex]);
}

/** The committed state of a job's join, as the state topic holds it. */
export class JoinState {
  readonly pending = new Map<string, PendingPrompt>();
  /** Joins already resolved; a late or repeated response to one of them is a duplicate. */
  readonly done = new Set<string>();
  status: PairingStatus = create(PairingStatusSchema);
  /** Set once the job resolved its last prompts; a resumed job then only exports. */
  finished = false;

  /** Makes a step's changes the committed state; call once its transaction committed. */
  apply(step: JoinStep): void {
    for (const [key, entry] of step.touched) {
      if (entry === null) {
        this.pending.delete(key);
        this.done.add(key);
      } else {
        this.pending.set(key, entry);
      }
    }
    this.status = step.status;
    if (step.finishing) this.finished = true;
  }
}

/** What the job pairs, and who it is. */
export interface JoinContext {
  readonly policy: Policy;
  readonly runId: string;
  readonly jobId: string;
}

/**
 * Changes to the join made by one batch (or one timer tick), not yet committed. Reads fall
 * through to the committed state; entries it changes are copied first.
 */
export class JoinStep {
  /** Joins changed by this step: their new entry, or null once resolved. */
  readonly touched = new Map<string, PendingPrompt | null>();
  /** Pairs to write, in the order they were decided. */
  readonly pairs: Pair[] = [];
  /** For each pair, the traceparent of its chosen response's record ('' when none). */
  readonly pairTraces: string[] = [];
  readonly status: PairingStatus;
  finishing = false;

  constructor(
    private readonly state: JoinState,
    private readonly ctx: JoinContext,
  ) {
    this.status = clone(PairingStatusSchema, state.status);
  }

  /**
   * Takes one response in, with the traceparent its record carried; returns false when it
   * belongs to another run and was skipped.
   */
  add(response: Response, now: number, traceparent = ''): boolean {
    if (response.runId !== this.ctx.runId) return false;
    this.status.responsesRead += 1n;
    if (!this.ctx.policy.models.includes(response.model)) {
      this.drop('unused_model');
      return true;
    }

    const key = joinKey(response.runId, response.promptId, response.sampleIndex);
    if (this.isDone(key)) {
      this.drop('duplicate');
      return true;
    }
    const entry = this.entry(key) ?? this.open(key, response, now);
    if (entry.responses.has(response.model)) {
      this.drop('duplicate');
      return true;
    }
    entry.responses.set(response.model, response);
    if (traceparent) entry.traces.set(response.model, traceparent);
    if (entry.responses.size === this.ctx.policy.models.length) this.resolve(key, entry);
    return true;
  }

  /** Resolves the joins that have waited `timeoutMs` or longer, with whatever they have. */
  expire(now: number, timeoutMs: number): void {
    for (const [key, entry] of this.entries()) {
      if (now - entry.since >= timeoutMs) this.resolve(key, entry);
    }
  }

  /** Resolves every join still waiting (end of input), and marks the job finished. */
  finish(): void {
    for (const [key, entry] of this.entries()) this.resolve(key, entry);
    this.finishing = true;
  }

  /** Joins waiting once this step is applied. */
  pendingCount(): number {
    let count = this.state.pending.size;
    for (const [key, entry] of this.touched) {
      const before = this.state.pending.has(key);
      if (entry === null && before) count -= 1;
      if (entry !== null && !before) count += 1;
    }
    return count;
  }

  /** The committed entry of a resolved join's models, to delete from the state topic. */
  committedModels(key: string): string[] {
    return [...(this.state.pending.get(key)?.responses.keys() ?? [])];
  }

  /** Whether a model's response to a join is already on the state topic. */
  isStored(key: string, model: string): boolean {
    return this.state.pending.get(key)?.responses.has(model) ?? false;
  }

  private *entries(): Generator<[string, PendingPrompt]> {
    for (const [key, entry] of this.state.pending) {
      if (!this.touched.has(key)) yield [key, entry];
    }
    for (const [key, entry] of [...this.touched]) {
      if (entry !== null) yield [key, entry];
    }
  }

  private isDone(key: string): boolean {
    return this.state.done.has(key) || this.touched.get(key) === null;
  }

  /** The join's entry for writing: this step's copy, made on first use. */
  private entry(key: string): PendingPrompt | undefined {
    const mine = this.touched.get(key);
    if (mine) return mine;
    const committed = this.state.pending.get(key);
    if (!committed) return undefined;
    const copy = { ...committed, responses: new Map(committed.responses),
      traces: new Map(committed.traces) };
    this.touched.set(key, copy);
    return copy;
  }

  private open(key: string, first: Response, now: number): PendingPrompt {
    const entry: PendingPrompt = {
      runId: first.runId, promptId: first.promptId, sampleIndex: first.sampleIndex,
      responses: new Map(), traces: new Map(), since: now,
    };
    this.touched.set(key, entry);
    return entry;
  }

  private resolve(key: string, entry: PendingPrompt): void {
    const { pairs, dropped } = this.ctx.policy.resolve(entry.responses);
    for (const [reason, n] of Object.entries(dropped)) this.drop(reason as DropReason, n);
    for (const d of pairs) {
      const prompt = d.chosen.prompt.length > 0 ? d.chosen.prompt : d.rejected.prompt;
      this.pairs.push(create(PairSchema, {
        runId: entry.runId,
        pairId: pairId(entry.runId, entry.promptId, entry.sampleIndex, d.chosen.model,
          d.rejected.model),
        promptId: entry.promptId,
        prompt,
        chosen: completion(d.chosen, d.chosenScore),
        rejected: completion(d.rejected, d.rejectedScore),
        policy: this.ctx.policy.name,
        sampleIndex: entry.sampleIndex,
        jobId: this.ctx.jobId,
        task: d.chosen.task || d.rejected.task,
        reference: d.chosen.reference || d.rejected.reference,
      }));
      this.pairTraces.push(entry.traces.get(d.chosen.model) ?? '');
    }
    this.status.pairsWritten += BigInt(pairs.length);
    this.touched.set(key, null);
  }

  private drop(reason: DropReason, n = 1): void {
    this.status.dropped[reason] = (this.status.dropped[reason] ?? 0n) + BigInt(n);
  }
}

/** One side of a pair; the policy's score, else the score the record carried, if any. */
function completion(response: Response, score: number | undefined): Completion {
  const carried = score ?? response.score;
  return create(CompletionSchema, {
    model: response.model,
    text: response.text,
    finishReason: response.finishReason,
    completionTokens: response.completionTokens,
    ...(carried !== undefined ? { score: carried } : {}),
  });
}
