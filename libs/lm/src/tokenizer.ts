// Tokenizes, detokenizes and renders chat templates for one model, from its tokenizer.json and
// tokenizer_config.json, through @huggingface/tokenizers and @huggingface/jinja. It holds no
// generation state; incremental detokenization lives in stop.ts.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { LmError } from './errors.js';

/** One turn of a conversation, as chat templates consume it. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** tokenizer_config.json names special tokens as plain strings or as AddedToken objects. */
export function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (
    value &&
    typeof value === 'object' &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return null;
}

function pickTemplate(raw: unknown, source: string): string | null {
  if (raw == null) return null;
  if (typeof raw === 'string') return raw;
  // A list of named templates: the one named "default" serves plain chat.
  if (Array.isArray(raw)) {
    const named = raw as { name?: string; template?: string }[];
    const chosen = named.find((t) => t.name === 'default') ?? named[0];
    if (chosen && typeof chosen.template === 'string') return chosen.template;
  }
  throw new LmError(
    'MODEL_FILE_INVALID',
    `${source}: chat_template is neither a string nor a list of named templates`,
  );
}

/**
 * A model's tokenizer and chat template. Prompts from messages are rendered by the template and
 * encoded without adding special tokens, as transformers' apply_chat_template does, so a
 * template that writes BOS itself does not get a second one.
 */
export class TextTokenizer {
  private readonly template: Template | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly tokenizerConfig: Record<string, unknown>,
    readonly chatTemplate: string | null,
    source: string,
  ) {
    this.bosToken = tokenContent(tokenizerConfig['bos_token']);
    this.eosToken = tokenContent(tokenizerConfig['eos_token']);
    try {
      this.template = chatTemplate ? new Template(chatTemplate) : null;
    } catch (cause) {
      throw new LmError('MODEL_FILE_INVALID', `${source}: chat template does not parse`, { cause });
    }
  }

  /** Builds a tokenizer from parsed tokenizer.json and tokenizer_config.json objects. */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: Record<string, unknown>,
    chatTemplate: string | null,
    source: string,
  ): TextTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson as object, tokenizerConfig);
    } catch (cause) {
      throw new LmError('MODEL_FILE_INVALID', `${source}: tokenizer.json could not be loaded`, {
        cause,
      });
    }
    const template = chatTemplate ?? pickTemplate(tokenizerConfig['chat_template'], source);
    return new TextTokenizer(tokenizer, tokenizerConfig, template, source);
  }

  /** Token ids of `text`; `addSpecialTokens` applies the post-processor (BOS for most models). */
  encode(text: string, addSpecialTokens = true): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Text of `ids`; special tokens (end tokens, role headers) are left out by default. */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  /** The id of a token string (a special token's content), if the vocabulary has it. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** True when the model folder supplied a chat template. */
  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /**
   * Renders `messages` with the chat template, ending with the assistant header when
   * `addGenerationPrompt` is set, so the response starts where the model should write.
   */
  renderChat(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) {
      throw new LmError(
        'INVALID_REQUEST',
        'the model has no chat template (tokenizer_config.json chat_template or ' +
          'chat_template.jinja); send a raw prompt instead',
      );
    }
    const special: Record<string, string> = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const v = tokenContent(this.tokenizerConfig[key]);
      if (v !== null) special[key] = v;
    }
    try {
      return this.template.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...special,
      });
    } catch (cause) {
      throw new LmError('INVALID_REQUEST', `chat template failed to render: ${String(cause)}`, {
        cause,
      });
    }
  }
}
