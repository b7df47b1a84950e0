// A YAML file kept with its source positions, so a check can name the line of the field at
// fault ("examples/demo.yaml:12: train.preset: ..."). Parsing only: what the fields mean is
// pipeline.ts's business.
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

import { RunError } from '../errors.js';

/** A step into a YAML value: a map key or a sequence index. */
export type PathPart = string | number;

/** "train.preset", "evaluate.tasks[1].name". */
export function formatPath(path: readonly PathPart[]): string {
  return path.reduce<string>((text, part) =>
    typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part, '');
}

/** A parsed YAML document whose fields can be traced back to their line. */
export class YamlSource {
  private constructor(
    /** The file as it should appear in messages (relative to the working folder when inside). */
    readonly shownFile: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    /** The document as plain data. */
    readonly value: unknown,
  ) {}

  /** Parses `text`; a syntax error is a PIPELINE error naming its line. */
  static parse(shownFile: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const error = doc.errors[0];
    if (error) {
      const line = lines.linePos(error.pos[0]).line;
      const first = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/u, '');
      throw new RunError('PIPELINE', `${shownFile}:${line}: ${first}`, { cause: error });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // The yaml library refuses documents whose aliases expand without bound.
      throw new RunError('PIPELINE', `${shownFile}: ${(err as Error).message}`, { cause: err });
    }
    return new YamlSource(shownFile, doc, lines, value);
  }

  /**
   * The line of the value at `path`, or of its key when `key` is set (an unknown field); the
   * nearest enclosing node's line when the path does not exist (a missing field).
   */
  lineOf(path: readonly PathPart[], key = false): number {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      if (key && depth === path.length && depth > 0) {
        const parent = this.doc.getIn(prefix.slice(0, -1), true) as Node | undefined;
        if (isMap(parent)) {
          const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === path.at(-1));
          const range = (pair?.key as Node | undefined)?.range;
          if (range) return this.lines.linePos(range[0]).line;
        }
      }
      const node = (depth === 0 ? this.doc.contents : this.doc.getIn(prefix, true)) as
        Node | null | undefined;
      if (node?.range) {
        // A block map or sequence starts on its first entry; point at the key that holds it.
        if ((isMap(node) || isSeq(node)) && depth > 0 && !(key && depth === path.length)) {
          return this.lineOf(prefix, true);
        }
        return this.lines.linePos(node.range[0]).line;
      }
    }
    return 1;
  }

  /** "file:line: path" for messages about the field at `path`. */
  where(path: readonly PathPart[], key = false): string {
    const shown = formatPath(path);
    return `${this.shownFile}:${this.lineOf(path, key)}${shown ? `: ${shown}` : ''}`;
  }
}

/** Collects every problem of a file, so one run of the check lists them all. */
export class Problems {
  private readonly found: string[] = [];

  constructor(private readonly source: YamlSource) {}

  /** Records a problem with the value at `path` (or its key, for an unknown field). */
  add(path: readonly PathPart[], message: string, options: { key?: boolean } = {}): void {
    this.found.push(`${this.source.where(path, options.key)}: ${message}`);
  }

  /** How many problems were found so far. */
  get count(): number {
    return this.found.length;
  }

  /** Throws one PIPELINE error listing every problem, when there is any. */
  throwIfAny(): void {
    if (this.found.length === 0) return;
    const more = this.found.length > 1 ? `\n${this.found.slice(1).join('\n')}` : '';
    throw new RunError('PIPELINE', `${this.found[0]}${more}`);
  }
}
