// Turns a task's prompt into chat messages, and messages into the text a model reads. Every
// path (generation, log-likelihood, few-shot or not) goes through these two functions, so the
// same model sees the same prompt text whichever way it is evaluated.
import { EvalError } from './errors.js';
import type { ChatMessage } from './model.js';

/** A worked example shown to the model before the real question. */
export interface FewShotExample {
  user: string;
  assistant: string;
}

/** The parts of a task prompt, before any template is applied. */
export interface PromptParts {
  system?: string;
  fewshot?: readonly FewShotExample[];
  user: string;
}

/** Builds the conversation for a prompt: system, then each example as a user/assistant turn. */
export function buildMessages(parts: PromptParts): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (parts.system) messages.push({ role: 'system', content: parts.system });
  for (const example of parts.fewshot ?? []) {
    messages.push({ role: 'user', content: example.user });
    messages.push({ role: 'assistant', content: example.assistant });
  }
  messages.push({ role: 'user', content: parts.user });
  return messages;
}

/**
 * Renders a conversation to prompt text, ending where the assistant's reply begins. Model
 * libraries supply one from the model's tokenizer_config.json; `plainTemplate` serves models
 * that have none.
 */
export interface ChatTemplate {
  readonly name: string;
  render(messages: readonly ChatMessage[]): string;
}

/** For base models without a chat template: turns joined by blank lines, roles dropped. */
export const plainTemplate: ChatTemplate = {
  name: 'plain',
  render(messages) {
    const parts: string[] = [];
    for (const m of messages) {
      if (m.role === 'assistant') parts[parts.length - 1] += ` ${m.content}`;
      else parts.push(m.content);
    }
    return parts.join('\n\n');
  },
};

/** The one place where a template turns messages into the prompt text a model is given. */
export function renderPrompt(template: ChatTemplate, messages: readonly ChatMessage[]): string {
  if (messages.length === 0 || messages[messages.length - 1]!.role !== 'user') {
    throw new EvalError('INVALID_ARGUMENT', 'a prompt must end with a user message');
  }
  return template.render(messages);
}
