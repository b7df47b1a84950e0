// Checks a YAML map against a protobuf message (sampling settings, trainer overrides), so a
// pipeline can set any field of the contract by its proto name and a wrong one is reported
// with its line. It converts nothing: specs.ts builds the messages from the checked maps.
import { fromJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';

import { type PathPart, type Problems } from './yaml-source.js';

/** A plain object (a YAML map), not an array or null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The proto field names of a message, as a pipeline spells them ("max_new_tokens"). */
export function fieldNames(schema: DescMessage): string[] {
  return schema.fields.map((f) => f.name);
}

/**
 * Checks that `value` is a map whose keys are fields of `schema` and whose values the
 * message's JSON form accepts; records each problem at its own field. Returns the map with
 * keys in proto spelling, or undefined when it is not usable.
 */
export function checkMessage(
  schema: DescMessage,
  value: unknown,
  path: readonly PathPart[],
  problems: Problems,
): Record<string, JsonValue> | undefined {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    problems.add(path, `must be a map of ${schema.name} fields (${fieldNames(schema).join(', ')})`);
    return undefined;
  }
  const before = problems.count;
  const out: Record<string, JsonValue> = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) {
      problems.add([...path, key], `unknown field (known: ${fieldNames(schema).join(', ')})`,
        { key: true });
      continue;
    }
    try {
      fromJson(schema, { [field.name]: raw as JsonValue });
      out[field.name] = raw as JsonValue;
    } catch (err) {
      const detail = (err as Error).message.replace(/^cannot decode [^:]*: ?/u, '');
      problems.add([...path, key], `not a valid ${describe(field)}${detail ? ` (${detail})` : ''}`);
    }
  }
  return problems.count === before ? out : undefined;
}

function describe(field: DescMessage['fields'][number]): string {
  switch (field.fieldKind) {
    case 'list': return 'list';
    case 'map': return 'map';
    case 'message': return `${field.message.name} map`;
    case 'enum': return `${field.enum.name} value`;
    default: return 'value';
  }
}
