// A small Dockerfile reader (instructions, stages, ARG defaults) and a .dockerignore matcher
// with Docker's rules, enough for the image checks. It does not expand variables other than
// ARG defaults, nor build anything: there is no container engine where the tests run.
import { readFileSync } from 'node:fs';

/** One instruction: its keyword (upper case), its argument text, its first line number. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** One build stage: its base image, its name, its instructions after FROM. */
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** A parsed Dockerfile: global ARG defaults and the stages in order (the last one ships). */
export interface Dockerfile {
  file: string;
  args: Record<string, string>;
  stages: Stage[];
}

/** Splits Dockerfile text into instructions, joining continued lines and dropping comments. */
export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) || (!current && line.trim() === '')) return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    current = current ? { ...current, text: `${current.text} ${body.trim()}` }
      : { text: body.trim(), line: i + 1 };
    if (!continued) {
      const [keyword, ...rest] = current.text.split(/\s+/);
      out.push({ keyword: keyword!.toUpperCase(), args: rest.join(' '), line: current.line });
      current = undefined;
    }
  });
  return out;
}

/** Reads a Dockerfile into stages. */
export function readDockerfile(file: string, text = readFileSync(file, 'utf8')): Dockerfile {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({ from: from!, ...(as?.toUpperCase() === 'AS' ? { name } : {}),
        instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [key, value] = ins.args.split('=');
        args[key!] = value ?? '';
      }
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { file, args, stages };
}

/** A stage and the stages it builds on (FROM <earlier stage>), nearest first. */
export function stageChain(docker: Dockerfile, stage: Stage): Stage[] {
  const chain = [stage];
  let base = docker.stages.find((s) => s.name === stage.from);
  while (base && !chain.includes(base)) {
    chain.push(base);
    base = docker.stages.find((s) => s.name === base!.from);
  }
  return chain;
}

/** The instructions of a stage and its base stages with a keyword. */
export function inChain(docker: Dockerfile, stage: Stage, keyword: string): Instruction[] {
  return stageChain(docker, stage).flatMap((s) => s.instructions)
    .filter((i) => i.keyword === keyword);
}

/** ENV assignments ("A=1 B=2", or the old "A 1" form). */
export function envOf(ins: Instruction): Record<string, string> {
  if (!ins.args.includes('=')) {
    const [key, ...value] = ins.args.split(/\s+/);
    return { [key!]: value.join(' ') };
  }
  return Object.fromEntries([...ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)]
    .map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
}

/** LABEL assignments. */
export function labelsOf(ins: Instruction): Record<string, string> {
  return Object.fromEntries([...ins.args.matchAll(/([A-Za-z0-9_.-]+)=("[^"]*"|\S+)/g)]
    .map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
}

/** A .dockerignore pattern as a regular expression over slash-separated paths. */
function patternRegex(pattern: string): RegExp {
  const parts = pattern.replace(/^\/+|\/+$/g, '').split('/');
  const body = parts.map((part, i) => {
    if (part === '**') return i === parts.length - 1 ? '.*' : '(?:.*/)?';
    const segment = part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]');
    return i === parts.length - 1 ? segment : `${segment}/`;
  }).join('');
  return new RegExp(`^${body}$`);
}

/**
 * Whether `file` (relative to the context root) stays out of the build context under the
 * .dockerignore `text`: the last pattern matching the file or one of its parent folders wins,
 * and a pattern with "!" brings the path back.
 */
export function ignored(text: string, file: string): boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), regex: patternRegex(l.replace(/^!/, '')) }));
  const parts = file.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const rule of rules) {
    if (prefixes.some((p) => rule.regex.test(p))) out = !rule.negate;
  }
  return out;
}
