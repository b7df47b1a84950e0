// Configuration from environment variables, declared with types and defaults and validated once
// at start: one ConfigError lists every bad variable, so a deployment is fixed in one round.

/** A declared variable: its name and how to turn the raw string into a value. */
export interface EnvVar<T> {
  readonly name: string;
  readonly doc: string;
  /** Returns the value, or throws a string saying what is wrong with `raw`. */
  parse(raw: string | undefined): T;
}

/** Raised when configuration is invalid; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'INVALID_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

interface Common<T> {
  /** Used when the variable is unset or empty. Without one the variable is required. */
  default?: T;
  doc?: string;
}

function declare<T>(name: string, opts: Common<T>, convert: (raw: string) => T): EnvVar<T> {
  return {
    name,
    doc: opts.doc ?? '',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') {
        if ('default' in opts) return opts.default as T;
        throw 'required';
      }
      return convert(raw.trim());
    },
  };
}

function optional<T>(inner: EnvVar<T>): EnvVar<T | undefined> {
  return {
    name: inner.name,
    doc: inner.doc,
    parse: (raw) => (raw === undefined || raw.trim() === '' ? undefined : inner.parse(raw)),
  };
}

function quote(raw: string): string {
  return JSON.stringify(raw);
}

/** Builders for declared variables. Each `optional*` form yields undefined when unset. */
export const env = {
  string(name: string, opts: Common<string> & { oneOf?: readonly string[] } = {}): EnvVar<string> {
    return declare(name, opts, (raw) => {
      if (opts.oneOf && !opts.oneOf.includes(raw)) {
        throw `${quote(raw)} is not one of ${opts.oneOf.join(', ')}`;
      }
      return raw;
    });
  },
  optionalString(name: string, opts: { doc?: string } = {}): EnvVar<string | undefined> {
    return optional(env.string(name, opts));
  },
  int(name: string, opts: Common<number> & { min?: number; max?: number } = {}): EnvVar<number> {
    return declare(name, opts, (raw) => {
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value))
        throw `${quote(raw)} is not an integer`;
      if (opts.min !== undefined && value < opts.min)
        throw `${value} is below the minimum ${opts.min}`;
      if (opts.max !== undefined && value > opts.max)
        throw `${value} is above the maximum ${opts.max}`;
      return value;
    });
  },
  number(name: string, opts: Common<number> & { min?: number; max?: number } = {}): EnvVar<number> {
    return declare(name, opts, (raw) => {
      const value = Number(raw);
      if (!Number.isFinite(value)) throw `${quote(raw)} is not a number`;
      if (opts.min !== undefined && value < opts.min)
        throw `${value} is below the minimum ${opts.min}`;
      if (opts.max !== undefined && value > opts.max)
        throw `${value} is above the maximum ${opts.max}`;
      return value;
    });
  },
  bool(name: string, opts: Common<boolean> = {}): EnvVar<boolean> {
    return declare(name, opts, (raw) => {
      const lower = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      throw `${quote(raw)} is not a boolean (true/false, 1/0, yes/no, on/off)`;
    });
  },
  /** A comma-separated list, trimmed, empty entries dropped. */
  list(name: string, opts: Common<string[]> = {}): EnvVar<string[]> {
    return declare(name, opts, (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  },
};

/** The typed values of a declared spec. */
export type EnvValues<S extends Record<string, EnvVar<unknown>>> = {
  [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never;
};

/**
 * Reads every declared variable from `source` (process.env by default) and returns the typed
 * values, or throws one ConfigError naming each variable that is missing or malformed.
 */
export function readEnv<S extends Record<string, EnvVar<unknown>>>(
  spec: S,
  source: Record<string, string | undefined> = process.env,
): EnvValues<S> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, variable] of Object.entries(spec)) {
    try {
      values[key] = variable.parse(source[variable.name]);
    } catch (problem) {
      const text = problem instanceof Error ? problem.message : String(problem);
      problems.push(`${variable.name}: ${text}${variable.doc ? ` (${variable.doc})` : ''}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues<S>;
}
