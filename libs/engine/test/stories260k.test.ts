// The real stories260K model (llama2.c layout) loaded through the llama2.c reader: greedy
// decoding from BOS must give the 256 token ids of an independent implementation of run.c
// (golden from tools/oracles/engine/stories260k_greedy.py).
import { expect, it } from 'vitest';
import { Model } from '../src/index.js';
import { golden, stories260k } from './helpers.js';

const g = golden<{ ids: number[]; first_logits_head: number[] }>('stories260k-greedy.json');

it('decodes the same 256 greedy tokens from BOS as llama2.c run.c', async () => {
  const model = await Model.fromLlama2c(stories260k, { threads: 2 });
  expect(model.config).toMatchObject({
    hiddenSize: 64, numLayers: 5, numHeads: 8, numKvHeads: 4, vocabSize: 512,
  });
  const ids = [1];
  for (let step = 0; step < 256; step++) {
    const { data, V } = await model.logits({ inputIds: [ids] });
    const row = data.subarray((ids.length - 1) * V, ids.length * V);
    if (step === 0) {
      g.first_logits_head.forEach((v, i) => expect(row[i]).toBeCloseTo(v, 4));
    }
    let best = 0;
    for (let j = 1; j < V; j++) if (row[j]! > row[best]!) best = j;
    ids.push(best);
  }
  expect(ids.slice(1)).toEqual(g.ids);
});
