import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { FinishReason, GeneratorService, PairSchema, RESPONSES_TOPIC } from '@delta/contracts';

describe('contracts', () => {
  it('round-trips a Pair through the binary wire format', () => {
    const pair = create(PairSchema, {
      runId: 'run-1',
      promptId: 'gsm8k-0',
      prompt: [{ role: 'user', content: 'What is 2+3?' }],
      chosen: { model: '175b', text: '2+3=5. A: 5', finishReason: FinishReason.STOP, score: 1 },
      rejected: { model: '6b', text: '2+3=6. A: 6', finishReason: FinishReason.STOP, score: 0 },
      policy: 'ladder',
    });
    const back = fromBinary(PairSchema, toBinary(PairSchema, pair));
    expect(back.chosen?.text).toBe('2+3=5. A: 5');
    expect(back.rejected?.score).toBe(0);
    expect(back.prompt[0]?.content).toBe('What is 2+3?');
  });

  it('describes the generator service with the start/watch/get/cancel pattern', () => {
    expect(GeneratorService.typeName).toBe('delta.v1.GeneratorService');
    expect(Object.keys(GeneratorService.method)).toEqual([
      'startGeneration',
      'watchGeneration',
      'getGeneration',
      'cancelGeneration',
    ]);
    expect(GeneratorService.method.watchGeneration.methodKind).toBe('server_streaming');
    expect(RESPONSES_TOPIC).toBe('delta.responses');
  });
});
