// Rendered manifests as plain objects, with the small lookups the checks share: objects by
// kind and name, the pod templates of workloads, a container's environment resolved through
// its ConfigMaps.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kustomizeBuild, repoRoot } from './kustomize.js';

/** One rendered Kubernetes object; fields are read loosely, the schema tests check shapes. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>;
    annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
}

/** The overlays users apply. */
export const OVERLAYS = ['deploy/overlays/dev', 'deploy/overlays/gpu'] as const;

/** The optional component that adds KEDA autoscaling of the generator. */
export const AUTOSCALE = 'deploy/components/generator-autoscale';

/** Parses multi-document YAML; a document that fails to parse names its index. */
export function parseObjects(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${source}[${i}]: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  }).filter((o) => o !== null);
}

/** Renders one kustomization folder (relative to the repository root). */
export function render(dir: string): K8sObject[] {
  return parseObjects(kustomizeBuild(dir), dir);
}

/**
 * Renders an overlay with extra components, as adding them to the overlay's own `components`
 * would: through a kustomization with the overlays' namespace, written under .cache/deploy-test/
 * (kustomize loads bases and components by relative path).
 */
export function renderWith(overlay: string, components: readonly string[]): K8sObject[] {
  const name = [overlay, ...components].map((p) => path.basename(p)).join('+');
  const dir = path.join(repoRoot, '.cache', 'deploy-test', name);
  mkdirSync(dir, { recursive: true });
  const rel = (p: string) => path.relative(dir, path.join(repoRoot, p));
  writeFileSync(path.join(dir, 'kustomization.yaml'), [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'namespace: delta',
    `resources: [${rel(overlay)}]`,
    `components: [${components.map(rel).join(', ')}]`,
    '',
  ].join('\n'));
  return render(path.relative(repoRoot, dir));
}

/** "Kind/name", how problems name an object. */
export function label(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

export function ofKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the rendered objects`);
  return found;
}

/** A copy of `objects` with `edit` applied to it: a drift test's altered manifests. */
export function edited(objects: readonly K8sObject[], edit: (objects: K8sObject[]) => void):
  K8sObject[] {
  const copy = structuredClone(objects) as K8sObject[];
  edit(copy);
  return copy;
}

/** Objects that run pods: Deployments and StatefulSets. */
export function workloads(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
}

/** A container's variables: envFrom ConfigMaps first, then env (values or value sources). */
export function containerEnv(
  objects: readonly K8sObject[],
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  container: any,
): Map<string, { value?: string; fieldPath?: string; from: string }> {
  const vars = new Map<string, { value?: string; fieldPath?: string; from: string }>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) throw new Error(`container ${container.name}: envFrom without a configMapRef`);
    const map = find(objects, 'ConfigMap', name);
    for (const [key, value] of Object.entries(map.data ?? {})) {
      vars.set(key, { value, from: `ConfigMap/${name}` });
    }
  }
  for (const entry of container.env ?? []) {
    const fieldPath = entry.valueFrom?.fieldRef?.fieldPath;
    vars.set(entry.name, {
      ...(entry.value !== undefined ? { value: String(entry.value) } : {}),
      ...(fieldPath ? { fieldPath } : {}),
      from: 'env',
    });
  }
  return vars;
}

/** True when every label of `selector` (matchLabels and In expressions) holds for `labels`. */
export function selects(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  selector: any,
  labels: Record<string, string> = {},
): boolean {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expr of selector?.matchExpressions ?? []) {
    const has = expr.key in labels;
    if (expr.operator === 'In' && !(has && expr.values.includes(labels[expr.key]))) return false;
    if (expr.operator === 'NotIn' && has && expr.values.includes(labels[expr.key])) return false;
    if (expr.operator === 'Exists' && !has) return false;
    if (expr.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
