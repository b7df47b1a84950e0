// Request validation that answers INVALID_ARGUMENT naming every field at fault
// ("spec.model: required; spec.batch_size: 512 is above the limit 64"). Field paths use the
// proto field names, as a user writes them in a pipeline file.
import { status as Status } from '@grpc/grpc-js';
import { RpcError } from './errors.js';

/** One problem with one field of a request. */
export interface FieldViolation {
  field: string;
  problem: string;
}

/** An INVALID_ARGUMENT error for one field. */
export function invalidArgument(field: string, problem: string): RpcError {
  return new InvalidArgumentError([{ field, problem }]);
}

/** INVALID_ARGUMENT that keeps the list of violations for the server side (tests, logs). */
export class InvalidArgumentError extends RpcError {
  constructor(readonly violations: readonly FieldViolation[]) {
    super(Status.INVALID_ARGUMENT, violations.map((v) => `${v.field}: ${v.problem}`).join('; '));
  }
}

/**
 * Collects every problem of a request before failing, so a user fixes them in one round.
 * Each check returns true when the value passed, so dependent checks can be skipped.
 */
export class Violations {
  readonly list: FieldViolation[] = [];

  add(field: string, problem: string): false {
    this.list.push({ field, problem });
    return false;
  }

  /** A string, message or list that must be set (non-empty, not undefined). */
  required(field: string, value: unknown): boolean {
    const missing =
      value === undefined ||
      value === null ||
      value === '' ||
      (Array.isArray(value) && value.length === 0);
    return missing ? this.add(field, 'required') : true;
  }

  /** A per-request limit (tokens, batch size, items): `value` must not exceed `max`. */
  atMost(field: string, value: number | bigint, max: number | bigint): boolean {
    return value > max ? this.add(field, `${value} is above the limit ${max}`) : true;
  }

  /** A number inside [min, max]. */
  inRange(field: string, value: number, min: number, max: number): boolean {
    if (Number.isNaN(value) || value < min || value > max) {
      return this.add(field, `${value} is outside [${min}, ${max}]`);
    }
    return true;
  }

  /** A value from a fixed set. */
  oneOf<T>(field: string, value: T, allowed: readonly T[]): boolean {
    if (allowed.includes(value)) return true;
    return this.add(field, `"${String(value)}" is not one of ${allowed.map(String).join(', ')}`);
  }

  /** Throws InvalidArgumentError when any check failed. */
  throwIfAny(): void {
    if (this.list.length > 0) throw new InvalidArgumentError(this.list);
  }
}

/** Runs the checks in `fn` and throws one INVALID_ARGUMENT listing every violation found. */
export function validate(fn: (v: Violations) => void): void {
  const v = new Violations();
  fn(v);
  v.throwIfAny();
}
