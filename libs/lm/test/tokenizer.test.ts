// Tokenizer and chat template: the JS tokenizer encodes as the Rust one that made the fixture,
// and a chat prompt carries one BOS and ends with the assistant header (CASES 2 and 3).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LmError, TextTokenizer, loadModelFiles } from '../src/index.js';
import { FIXTURES, LLAMA3_STYLE_TEMPLATE, tempDir } from './helpers.js';

const tokenizerJson = JSON.parse(
  readFileSync(join(FIXTURES, 'tokenizer', 'tokenizer.json'), 'utf8'),
) as unknown;
const golden = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer', 'encodings.json'), 'utf8')) as {
  encodings: { text: string; ids: number[] }[];
};
const config = {
  bos_token: '<|begin_of_text|>',
  eos_token: '<|end_of_text|>',
  chat_template: LLAMA3_STYLE_TEMPLATE,
};
const tok = TextTokenizer.fromJson(tokenizerJson, config, null, 'test');

describe('tokenizer', () => {
  it.each(golden.encodings)(
    'encodes $text as the Rust tokenizers library does',
    ({ text, ids }) => {
      expect(tok.encode(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text.replace(/<\|[a-z_]+\|>/g, ''));
    },
  );

  it('renders chat messages with one BOS and the assistant header at the end of the prompt', () => {
    const text = tok.renderChat([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is 2+3?' },
    ]);
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+3?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const ids = tok.encode(text, false);
    expect(ids.filter((t) => t === 0)).toEqual([0]);
    expect(ids[0]).toBe(0);
    // The header is the prompt's last part, so a response never has to produce it.
    expect(tok.decode(ids.slice(ids.lastIndexOf(2)), false)).toBe(
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('adds BOS to raw text once, and not when asked for none', () => {
    expect(tok.encode('Hi').filter((t) => t === 0).length).toBe(1);
    expect(tok.encode('Hi', false)).not.toContain(0);
  });

  it('names the missing template when messages need one', () => {
    const bare = TextTokenizer.fromJson(
      tokenizerJson,
      { bos_token: '<|begin_of_text|>' },
      null,
      'test',
    );
    expect(() => bare.renderChat([{ role: 'user', content: 'x' }])).toThrow(/no chat template/);
  });

  it('picks the "default" template from a list of named templates', () => {
    const named = TextTokenizer.fromJson(
      tokenizerJson,
      {
        chat_template: [
          { name: 'tool_use', template: 'TOOLS' },
          { name: 'default', template: '{{ messages[0].content }}!' },
        ],
      },
      null,
      'test',
    );
    expect(named.renderChat([{ role: 'user', content: 'hey' }])).toBe('hey!');
  });
});

describe('model folder chat template', () => {
  it('prefers chat_template.jinja over tokenizer_config.json', () => {
    const dir = tempDir('template');
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ model_type: 'llama', max_position_embeddings: 64 }),
    );
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ ...config, chat_template: 'OLD' }),
    );
    writeFileSync(join(dir, 'chat_template.jinja'), '[{{ messages[0].content }}]');
    const files = loadModelFiles(dir);
    expect(files.tokenizer!.renderChat([{ role: 'user', content: 'q' }])).toBe('[q]');
  });

  it('rejects a template that does not parse, naming the file', () => {
    expect(() =>
      TextTokenizer.fromJson(
        tokenizerJson,
        { chat_template: '{% for %}' },
        null,
        'm/tokenizer_config.json',
      ),
    ).toThrow(LmError);
    expect(() =>
      TextTokenizer.fromJson(
        tokenizerJson,
        { chat_template: '{% for %}' },
        null,
        'm/tokenizer_config.json',
      ),
    ).toThrow(/m\/tokenizer_config.json: chat template does not parse/);
  });
});
