// The job's state topic: a compacted changelog of the join, written in the same transaction as
// the pairs and the input offsets, and read back whole when a job (re)starts. Record kinds are
// told apart by key, a JSON array:
//   ["pending", run, prompt, sample, model] -> Response waiting for its other sides (its
//                                              record's traceparent in the headers); a
//                                              tombstone once the prompt is resolved
//   ["done", run, prompt, sample]           -> Response carrying only those ids: resolved
//   ["status"]                              -> PairingStatus: the job's counters
//   ["finished"]                            -> PairingStatus: the job resolved everything
import { fromBinary } from '@bufbuild/protobuf';
import {
  PairingStatusSchema, ResponseSchema, type PairingStatus,
} from '@delta/contracts';
import { Code, RpcError } from '@delta/rpc';
import { output, topic, type Output, type OutgoingRecord, type Topic } from '@delta/stream';
import type { Kafka } from 'kafkajs';
import { JoinState, joinKey, type JoinStep } from './join.js';
import { readToEnd, type ReadToEndOptions } from './read-to-end.js';

/** Topic config of a state topic: compacted, so resolved prompts' entries are cleaned away. */
export const STATE_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'min.cleanable.dirty.ratio': '0.1',
  'segment.ms': '3600000',
};

/** The two typed views of one state topic, one per value type. */
export interface StateTopics {
  readonly name: string;
  readonly responses: Topic<typeof ResponseSchema>;
  readonly status: Topic<typeof PairingStatusSchema>;
}

/** Typed views of the state topic `name`. */
export function stateTopics(name: string): StateTopics {
  return {
    name,
    responses: topic(name, ResponseSchema),
    status: topic(name, PairingStatusSchema),
  };
}

const STATUS_KEY = JSON.stringify(['status']);
const FINISHED_KEY = JSON.stringify(['finished']);

function pendingKey(run: string, prompt: string, sample: number, model: string): string {
  return JSON.stringify(['pending', run, prompt, sample, model]);
}

function doneKey(run: string, prompt: string, sample: number): string {
  return JSON.stringify(['done', run, prompt, sample]);
}

/** A status record: the counters as they stand after the transaction that carries it. */
export function statusOutput(state: StateTopics, status: PairingStatus, finished = false): Output {
  const records: OutgoingRecord<typeof PairingStatusSchema>[] = [{ key: STATUS_KEY, value: status }];
  if (finished) records.push({ key: FINISHED_KEY, value: status });
  return output(state.status, records);
}

/** The state records of a step: new pending responses, and resolved prompts. */
export function stepOutputs(state: StateTopics, step: JoinStep): Output[] {
  const records: OutgoingRecord<typeof ResponseSchema>[] = [];
  for (const [key, entry] of step.touched) {
    if (entry === null) {
      const [run, prompt, sample] = JSON.parse(key) as [string, string, number];
      for (const model of step.committedModels(key)) {
        records.push({ key: pendingKey(run, prompt, sample, model), value: null });
      }
      records.push({ key: doneKey(run, prompt, sample),
        value: { runId: run, promptId: prompt, sampleIndex: sample } });
      continue;
    }
    for (const [model, response] of entry.responses) {
      if (step.isStored(key, model)) continue;
      const traceparent = entry.traces.get(model);
      records.push({ key: pendingKey(entry.runId, entry.promptId, entry.sampleIndex, model),
        value: response, ...(traceparent ? { headers: { traceparent } } : {}) });
    }
  }
  step.status.promptsPending = BigInt(step.pendingCount());
  return [output(state.responses, records), statusOutput(state, step.status, step.finishing)];
}

/**
 * Rebuilds a job's join from its state topic. Read it only after fencing the job's previous
 * transactional producer, so no transaction of a dead instance holds the read back.
 */
export async function restoreState(
  kafka: Kafka,
  state: StateTopics,
  options: ReadToEndOptions,
): Promise<JoinState> {
  const join = new JoinState();
  await readToEnd(kafka, state.name, (message) => {
    const key = message.key?.toString() ?? '';
    let parts: unknown;
    try {
      parts = JSON.parse(key);
    } catch (err) {
      throw new RpcError(Code.DATA_LOSS,
        `${state.name}@${message.offset}: key ${key} is not JSON; was the topic written by hand?`,
        err);
    }
    if (!Array.isArray(parts)) return;
    const value = message.value;
    switch (parts[0]) {
      case 'status':
        if (value) join.status = fromBinary(PairingStatusSchema, value);
        break;
      case 'finished':
        join.finished = value !== null;
        break;
      case 'done':
        join.done.add(joinKey(parts[1], parts[2], parts[3]));
        break;
      case 'pending': {
        const [, run, prompt, sample, model] = parts as [string, string, string, number, string];
        const key = joinKey(run, prompt, sample);
        const entry = join.pending.get(key);
        if (value === null) {
          entry?.responses.delete(model);
          if (entry && entry.responses.size === 0) join.pending.delete(key);
          break;
        }
        const response = fromBinary(ResponseSchema, value);
        const at = Number(message.timestamp);
        const traceparent = message.headers?.traceparent?.toString();
        const pending = entry ?? { runId: run, promptId: prompt, sampleIndex: sample,
          responses: new Map(), traces: new Map(), since: at };
        pending.responses.set(model, response);
        if (traceparent) pending.traces.set(model, traceparent);
        pending.since = Math.min(pending.since, at);
        join.pending.set(key, pending);
        break;
      }
    }
  }, options);
  for (const key of join.done) join.pending.delete(key);
  return join;
}
