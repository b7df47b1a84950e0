// Wraps a model that works on plain text into the chat-level interfaces tasks call, applying
// the chat template through `renderPrompt` on both the generation and the scoring path.
// It adds no batching of its own: the text model receives each batch as the caller formed it.
import { renderPrompt, type ChatTemplate } from './chat.js';
import type {
  GenerationModel,
  GenerationResult,
  LogLikelihoodModel,
  LogLikelihoodResult,
  SamplingParams,
} from './model.js';

/** A model over prompt text: completes prompts and scores continuations of contexts. */
export interface TextModel {
  readonly name: string;
  complete(
    prompts: readonly { prompt: string; sampling: SamplingParams }[],
  ): Promise<GenerationResult[]>;
  score(pairs: readonly { context: string; continuation: string }[]): Promise<LogLikelihoodResult[]>;
}

/** A model usable for every kind of task. */
export type ChatModel = GenerationModel & LogLikelihoodModel;

/**
 * Gives a text model the chat interfaces. Both paths render messages with the same template
 * and function, so a task scores the same whether it generates or compares log-likelihoods.
 */
export function chatModel(model: TextModel, template: ChatTemplate): ChatModel {
  return {
    name: model.name,
    async generate(requests, { batchSize }) {
      const out: GenerationResult[] = [];
      for (let i = 0; i < requests.length; i += batchSize) {
        const batch = requests.slice(i, i + batchSize).map((r) => ({
          prompt: renderPrompt(template, r.messages),
          sampling: r.sampling,
        }));
        out.push(...(await model.complete(batch)));
      }
      return out;
    },
    async logLikelihood(requests, { batchSize }) {
      const out: LogLikelihoodResult[] = [];
      for (let i = 0; i < requests.length; i += batchSize) {
        const batch = requests.slice(i, i + batchSize).map((r) => ({
          context: 'messages' in r ? renderPrompt(template, r.messages) : r.context,
          continuation: r.continuation,
        }));
        out.push(...(await model.score(batch)));
      }
      return out;
    },
  };
}
