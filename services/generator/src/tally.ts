// Keeps a generation job's status (GenerationStatus) and its metrics in step: prompts answered,
// skipped and rejected, responses written, tokens, finish reasons and throughput. It does not
// publish: the job loop calls report() after a batch is committed.
import type { GenerationStatus, Response } from '@delta/contracts';
import { FinishReason } from '@delta/contracts';
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import {
  GEN_AI_REQUEST_MODEL, GEN_AI_TOKEN_TYPE, GEN_AI_CLIENT_TOKEN_USAGE,
} from '@delta/telemetry';

/** Rejected prompts listed in the status; past this, one closing line counts the rest. */
export const MAX_REJECTED_LISTED = 100;

/** Name of a finish reason as status maps and span attributes carry it ("stop", "length"). */
export function finishReasonName(reason: FinishReason): string {
  switch (reason) {
    case FinishReason.STOP: return 'stop';
    case FinishReason.LENGTH: return 'length';
    case FinishReason.CANCELLED: return 'cancelled';
    default: return 'unspecified';
  }
}

/** The service's instruments, made once per service from its meter. */
export interface GeneratorMetrics {
  prompts: Counter;
  responses: Counter;
  tokens: Counter;
  tokenUsage: Histogram;
  batchSeconds: Histogram;
}

/** Creates the generator's counters and histograms (names delta.generator.*). */
export function createMetrics(meter: Meter): GeneratorMetrics {
  return {
    prompts: meter.createCounter('delta.generator.prompts', {
      description: 'prompts handled, by outcome (answered, skipped, rejected)',
    }),
    responses: meter.createCounter('delta.generator.responses', {
      description: 'Response records written, by finish reason',
    }),
    tokens: meter.createCounter('delta.generator.tokens', {
      description: 'tokens read (input) and written (output)',
    }),
    tokenUsage: meter.createHistogram(GEN_AI_CLIENT_TOKEN_USAGE, {
      description: 'tokens per response, by gen_ai.token.type',
      unit: '{token}',
    }),
    batchSeconds: meter.createHistogram('delta.generator.batch.duration', {
      description: 'seconds to generate one batch of prompts',
      unit: 's',
    }),
  };
}

/** One job's figures. */
export class Tally {
  private rejectedCount = 0;
  private generationSeconds = 0;
  private outputThisProcess = 0;

  constructor(
    readonly status: GenerationStatus,
    private readonly metrics: GeneratorMetrics,
    private readonly model: string,
  ) {}

  /**
   * Starts from what the responses topic says this job already wrote (after a restart), so the
   * figures count each response once. Skips and rejections are counted again when the source
   * is read again from its start (a file); a topic is not, so `keepReadCounts` keeps them.
   */
  restore(own: readonly Response[], keepReadCounts: boolean): void {
    const s = this.status;
    s.promptsDone = BigInt(new Set(own.map((r) => r.promptId)).size);
    if (!keepReadCounts) s.promptsSkipped = 0n;
    s.responsesWritten = BigInt(own.length);
    s.inputTokens = 0n;
    s.outputTokens = 0n;
    s.finishReasons = {};
    const seen = new Set<string>();
    for (const r of own) {
      if (!seen.has(r.promptId)) s.inputTokens += BigInt(r.promptTokens);
      seen.add(r.promptId);
      s.outputTokens += BigInt(r.completionTokens);
      const name = finishReasonName(r.finishReason);
      s.finishReasons[name] = (s.finishReasons[name] ?? 0n) + 1n;
    }
    if (keepReadCounts) {
      const more = s.rejected.length > MAX_REJECTED_LISTED
        ? Number(/^(\d+)/.exec(s.rejected[MAX_REJECTED_LISTED]!)?.[1] ?? 0) : 0;
      this.rejectedCount = Math.min(s.rejected.length, MAX_REJECTED_LISTED) + more;
    } else {
      s.rejected = [];
      this.rejectedCount = 0;
    }
  }

  /** Prompts accounted for: answered, skipped or rejected. */
  get handled(): number {
    return Number(this.status.promptsDone + this.status.promptsSkipped) + this.rejectedCount;
  }

  get rejectedTotal(): number {
    return this.rejectedCount;
  }

  /** A prompt that cannot be answered, with where it came from and why. */
  reject(reason: string): void {
    this.rejectedCount += 1;
    const listed = this.status.rejected;
    if (listed.length < MAX_REJECTED_LISTED) listed.push(reason);
    else listed[MAX_REJECTED_LISTED] =
      `${this.rejectedCount - MAX_REJECTED_LISTED} more rejected prompts not listed`;
    this.metrics.prompts.add(1, { outcome: 'rejected', [GEN_AI_REQUEST_MODEL]: this.model });
  }

  /** A prompt this run and model answered before. */
  skip(): void {
    this.status.promptsSkipped += 1n;
    this.metrics.prompts.add(1, { outcome: 'skipped', [GEN_AI_REQUEST_MODEL]: this.model });
  }

  /** A committed batch: its prompts, its records and the seconds its generation took. */
  answered(prompts: number, responses: readonly Response[], seconds: number): void {
    const s = this.status;
    const attrs = { [GEN_AI_REQUEST_MODEL]: this.model };
    s.promptsDone += BigInt(prompts);
    s.responsesWritten += BigInt(responses.length);
    this.metrics.prompts.add(prompts, { ...attrs, outcome: 'answered' });
    this.metrics.batchSeconds.record(seconds, attrs);
    let output = 0;
    // A prompt is read once however many samples are drawn for it.
    const seen = new Set<string>();
    for (const r of responses) {
      if (!seen.has(r.promptId)) {
        seen.add(r.promptId);
        s.inputTokens += BigInt(r.promptTokens);
        this.metrics.tokens.add(r.promptTokens, { ...attrs, [GEN_AI_TOKEN_TYPE]: 'input' });
        this.metrics.tokenUsage.record(r.promptTokens, { ...attrs, [GEN_AI_TOKEN_TYPE]: 'input' });
      }
      output += r.completionTokens;
      this.metrics.tokenUsage.record(r.completionTokens,
        { ...attrs, [GEN_AI_TOKEN_TYPE]: 'output' });
      const name = finishReasonName(r.finishReason);
      s.finishReasons[name] = (s.finishReasons[name] ?? 0n) + 1n;
      this.metrics.responses.add(1, { ...attrs, finish_reason: name });
    }
    s.outputTokens += BigInt(output);
    this.metrics.tokens.add(output, { ...attrs, [GEN_AI_TOKEN_TYPE]: 'output' });
    this.generationSeconds += seconds;
    this.outputThisProcess += output;
    s.tokensPerSecond = this.generationSeconds > 0
      ? this.outputThisProcess / this.generationSeconds : 0;
  }
}
