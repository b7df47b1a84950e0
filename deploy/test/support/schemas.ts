// Offline validation of rendered objects against the Kubernetes schemas: core and KEDA objects
// through the kubernetes-models packages (their validators check types, enums and required
// fields), Strimzi objects through the openAPIV3Schema of Strimzi's own CRDs (vendored in
// test/crds/strimzi), and, for all, a check that no field is unknown to the schema, as the API
// server's strict field validation (kubectl's default) would refuse it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import ts from 'typescript';
import { parse } from 'yaml';
import { label, type K8sObject } from './render.js';
import { repoRoot } from './kustomize.js';

/** The Strimzi release whose CRDs the Kafka resources are checked against. */
export const STRIMZI_VERSION = '1.2.0';

const crdDir = path.join(repoRoot, 'deploy', 'test', 'crds', `strimzi-${STRIMZI_VERSION}`);
const STRIMZI_CRDS: Record<string, string> = {
  Kafka: '040-Crd-kafka.yaml',
  KafkaNodePool: '045-Crd-kafkanodepool.yaml',
  KafkaTopic: '043-Crd-kafkatopic.yaml',
};

/** The module and interface that type an object of a core or KEDA kind, if one does. */
export function modelOf(o: Pick<K8sObject, 'apiVersion' | 'kind'>):
  { specifier: string; typeName: string } | undefined {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  if (group === 'keda.sh') {
    return { specifier: `@kubernetes-models/keda/keda.sh/${version}/${o.kind}`,
      typeName: `I${o.kind}` };
  }
  if (group!.endsWith('strimzi.io')) return undefined;
  const prefix = group ? `${group}/${version}` : version;
  return { specifier: `kubernetes-models/${prefix}/${o.kind}`, typeName: `I${o.kind}` };
}

/** Runs each core and KEDA object through its kubernetes-models validator. */
export async function validateModels(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const model = modelOf(o);
    if (!model) continue;
    let Ctor: new (data: unknown) => { validate(): void };
    try {
      Ctor = (await import(model.specifier))[o.kind];
    } catch {
      problems.push(`${label(o)}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Ctor(o).validate();
    } catch (err) {
      problems.push(`${label(o)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * Fields a core or KEDA object has that its type does not declare. Each object becomes a typed
 * object literal in a generated TypeScript file; the compiler's excess-property check then
 * reports every unknown field, nested ones included, and the line tells which object it is.
 */
export function unknownFields(objects: readonly K8sObject[]): string[] {
  const typed = objects.map((o) => ({ o, model: modelOf(o) })).filter((t) => t.model);
  const imports = typed.map((t, i) =>
    `import type { ${t.model!.typeName} as T${i} } from '${t.model!.specifier}';`);
  const lines = typed.map((t, i) => `export const o${i}: T${i} = ${JSON.stringify(t.o)};`);
  const file = path.join(repoRoot, 'deploy', 'test', '__rendered__.ts');
  const text = [...imports, ...lines].join('\n');

  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);

  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ')
      .replace(/'"([^"]+)"'/g, "'$1'");
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line - imports.length;
    const owner = typed[line]?.o;
    return owner ? `${label(owner)}: ${message}` : message;
  });
}

/** A schema node made strict: an object with declared properties takes no others. */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = strict(value);
  if (out.properties && out.additionalProperties === undefined &&
      !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

let strimzi: Map<string, ValidateFunction> | undefined;

/** Strimzi validators by kind, from the vendored CRDs (served version v1). */
export function strimziValidators(): Map<string, ValidateFunction> {
  if (strimzi) return strimzi;
  const ajv = new Ajv({ strict: false, allErrors: true });
  strimzi = new Map();
  for (const [kind, file] of Object.entries(STRIMZI_CRDS)) {
    const crd = parse(readFileSync(path.join(crdDir, file), 'utf8'));
    const version = crd.spec.versions.find((v: { name: string }) => v.name === 'v1');
    strimzi.set(kind, ajv.compile(strict(version.schema.openAPIV3Schema) as object));
  }
  return strimzi;
}

/** Validates Strimzi objects (kafka.strimzi.io/v1) against their CRD schema, strictly. */
export function validateStrimzi(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects.filter((x) => x.apiVersion.startsWith('kafka.strimzi.io/'))) {
    if (o.apiVersion !== 'kafka.strimzi.io/v1') {
      problems.push(`${label(o)}: apiVersion ${o.apiVersion}; Strimzi ${STRIMZI_VERSION} serves v1`);
      continue;
    }
    const validate = strimziValidators().get(o.kind);
    if (!validate) {
      problems.push(`${label(o)}: no vendored CRD for ${o.kind}`);
      continue;
    }
    if (!validate(o)) {
      for (const e of validate.errors ?? []) {
        const extra = e.keyword === 'additionalProperties'
          ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : '';
        problems.push(`${label(o)}: ${e.instancePath || '/'} ${e.message}${extra}`);
      }
    }
  }
  return problems;
}

/** Names Kubernetes accepts for objects: RFC 1123 subdomains. */
export function nameProblems(objects: readonly K8sObject[]): string[] {
  return objects
    .filter((o) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
      .test(o.metadata?.name ?? '') || o.metadata.name.length > 253)
    .map((o) => `${label(o)}: "${o.metadata?.name}" is not a valid object name`);
}
