// Confines file paths named in requests (models, data, outputs) to the roots a service was
// configured with. Symlinks and `..` are resolved before the check; a path that does not exist
// yet (an output) is checked through its nearest existing parent.
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { RpcError } from './errors.js';
import { invalidArgument } from './validate.js';

async function realpathOfNearest(p: string): Promise<string> {
  let rest = '';
  let current = p;
  for (;;) {
    try {
      return path.join(await realpath(current), rest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, rest);
      rest = path.join(path.basename(current), rest);
      current = parent;
    }
  }
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `requested` inside one of `roots` and returns its real path. A relative path is tried
 * against each root in order: the first root where it exists wins; a path that exists nowhere
 * (an output) goes under the first root. An absolute path must lie inside a root. Anything
 * that escapes, through `..` or a symlink, is refused with PERMISSION_DENIED; an empty path is
 * INVALID_ARGUMENT. `field` names the request field in the error ("spec.model").
 */
export async function resolveInside(
  roots: readonly string[],
  requested: string,
  field = 'path',
): Promise<string> {
  return (await resolveAmong(roots, requested, field)).real;
}

/** resolveInside's work, also returning the real paths of the roots it compared against. */
async function resolveAmong(roots: readonly string[], requested: string, field: string):
  Promise<{ real: string; realRoots: string[] }> {
  if (!requested) throw invalidArgument(field, 'required');
  if (requested.includes('\0')) throw invalidArgument(field, 'contains a NUL byte');
  if (roots.length === 0) {
    throw new RpcError(
      Status.PERMISSION_DENIED,
      `${field}: this service has no file roots configured, so it opens no files`,
    );
  }
  const realRoots = await Promise.all(roots.map((r) => realpathOfNearest(path.resolve(r))));

  const candidates = path.isAbsolute(requested)
    ? [path.resolve(requested)]
    : roots.map((r) => path.resolve(r, requested));
  const denied = () =>
    new RpcError(
      Status.PERMISSION_DENIED,
      `${field}: "${requested}" is outside the allowed roots (${roots.join(', ')})`,
    );

  // An existing path is taken from the first root that has it, and must stay inside the roots.
  for (const candidate of candidates) {
    const real = await realpath(candidate).catch(() => undefined);
    if (real === undefined) continue;
    if (!realRoots.some((root) => inside(root, real))) {
      throw real === candidate ? denied() : new RpcError(Status.PERMISSION_DENIED,
        `${field}: "${requested}" resolves to "${real}", outside the allowed roots ` +
        `(${roots.join(', ')})`);
    }
    return { real, realRoots };
  }
  // A path that does not exist yet (an output) goes under the first root it stays inside.
  for (const candidate of candidates) {
    const real = await realpathOfNearest(candidate);
    if (realRoots.some((root) => inside(root, real))) return { real, realRoots };
  }
  throw denied();
}

/** Entries a folder named by a request may hold before it is refused unread. */
const MAX_FOLDER_ENTRIES = 100_000;

/**
 * resolveInside for a folder the service will read whole (a model folder): the folder must lie
 * inside the roots, and so must the target of every symlink within it, so a folder cannot
 * reach a file elsewhere through a link (config.json -> /etc/passwd). Links that lead nowhere
 * are left alone; they cannot be read.
 */
export async function resolveFolderInside(
  roots: readonly string[],
  requested: string,
  field = 'path',
): Promise<string> {
  const { real: dir, realRoots } = await resolveAmong(roots, requested, field);
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    // Not a folder, or not there: the caller's own check says so in its terms.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ENOENT') return dir;
    throw err;
  }
  if (entries.length > MAX_FOLDER_ENTRIES) {
    throw invalidArgument(field, `"${requested}" holds over ${MAX_FOLDER_ENTRIES} entries`);
  }
  for (const entry of entries) {
    if (!entry.isSymbolicLink()) continue;
    const link = path.join(entry.parentPath, entry.name);
    const target = await realpath(link).catch(() => undefined);
    if (target !== undefined && !realRoots.some((root) => inside(root, target))) {
      throw new RpcError(Status.PERMISSION_DENIED,
        `${field}: "${path.relative(dir, link)}" in "${requested}" links to "${target}", ` +
        `outside the allowed roots (${roots.join(', ')})`);
    }
  }
  return dir;
}
