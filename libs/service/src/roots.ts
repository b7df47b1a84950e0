// The folders a service may open files in, by purpose. A request names a path; the service
// resolves it inside the matching roots, and anything outside is PERMISSION_DENIED.
import path from 'node:path';
import { resolveFolderInside, resolveInside } from '@delta/rpc';

/** Where models, data and outputs may live for one service. */
export interface Roots {
  readonly models: readonly string[];
  readonly data: readonly string[];
  readonly outputs: readonly string[];
  /**
   * A model folder named by a request (`field` names it in errors: "spec.model"); symlinks in
   * it must stay inside the model roots too.
   */
  resolveModel(requested: string, field: string): Promise<string>;
  /** A data file named by a request. */
  resolveData(requested: string, field: string): Promise<string>;
  /** An output path named by a request; it may not exist yet. */
  resolveOutput(requested: string, field: string): Promise<string>;
}

/** Splits a root list as PATH is split (":" on POSIX), dropping empty entries. */
export function parseRootList(raw: string | undefined): string[] {
  return (raw ?? '').split(path.delimiter).map((r) => r.trim()).filter(Boolean)
    .map((r) => path.resolve(r));
}

/** Roots from their lists; a purpose without roots opens no files. */
export function makeRoots(models: string[], data: string[], outputs: string[]): Roots {
  return {
    models,
    data,
    outputs,
    resolveModel: (requested, field) => resolveFolderInside(models, requested, field),
    resolveData: (requested, field) => resolveInside(data, requested, field),
    resolveOutput: (requested, field) => resolveInside(outputs, requested, field),
  };
}
