// What the four services say about themselves, read from their own code: default ports, the
// health service names the probes ask for, every environment variable they declare (the
// runtime's, their own, and the telemetry and log variables read outside those specs), and
// their workspace folders. The checks compare the manifests and images with these facts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  EvaluatorService, GeneratorService, PairerService, TrainerService,
} from '@delta/contracts';
import { EVALUATOR_PORT, evaluatorService, evaluatorSettingsSpec } from '@delta/evaluator';
import { GENERATOR_PORT, createGeneratorService, generatorEnvSpec } from '@delta/generator';
import { PAIRER_PORT, pairerDefinition, pairerEnvSpec, readPairerConfig } from '@delta/pairer';
import type { EnvVar } from '@delta/rpc';
import { jobServiceEnvSpec } from '@delta/service';
import { trainerDefinition, trainerEnvSpec } from '@delta/trainer';
import { repoRoot } from './kustomize.js';

export const SERVICE_NAMES = ['generator', 'pairer', 'trainer', 'evaluator'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** One service as its code declares it. */
export interface ServiceFacts {
  name: ServiceName;
  /** The port it listens on when DELTA_GRPC_PORT is unset. */
  defaultPort: number;
  /** Its gRPC service's full name: what the readiness probe asks the health service about. */
  healthService: string;
  /** Every variable of its declared spec (runtime and own), by variable name. */
  spec: Record<string, EnvVar<unknown>>;
  /** Variables read outside the spec: telemetry (OTEL_*) and the log level. */
  extra: string[];
  /** Its npm workspace folder and version ("services/generator", "0.1.0"). */
  workspace: string;
  version: string;
  /** Whether its jobs write under DELTA_OUTPUT_ROOTS (exports, details, checkpoints). */
  writesOutputs: boolean;
}

function byName(...specs: Record<string, EnvVar<unknown>>[]): Record<string, EnvVar<unknown>> {
  const out: Record<string, EnvVar<unknown>> = {};
  for (const spec of specs) for (const v of Object.values(spec)) out[v.name] = v;
  return out;
}

/**
 * Variable names the telemetry start and the logger read from the environment, found in their
 * sources, so a variable they stop reading (or start reading) changes what manifests may set.
 */
export function telemetryVariables(): string[] {
  const files = ['libs/telemetry/src/start.ts', 'libs/telemetry/src/logger.ts'];
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    for (const m of text.matchAll(/\b(OTEL_[A-Z_]*[A-Z]|DELTA_LOG_LEVEL)\b/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

function version(workspace: string): string {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, workspace, 'package.json'), 'utf8'));
  return pkg.version;
}

/** The facts of every service, each cross-checked with its own definition object. */
export function serviceFacts(): Record<ServiceName, ServiceFacts> {
  const extra = telemetryVariables();
  const definitions = {
    generator: createGeneratorService({}),
    pairer: pairerDefinition(readPairerConfig({})),
    trainer: trainerDefinition,
    evaluator: evaluatorService(),
  };
  const own = {
    generator: generatorEnvSpec, pairer: pairerEnvSpec,
    trainer: trainerEnvSpec, evaluator: evaluatorSettingsSpec,
  };
  const ports = {
    generator: GENERATOR_PORT, pairer: PAIRER_PORT,
    trainer: trainerDefinition.defaultPort, evaluator: EVALUATOR_PORT,
  };
  const descriptors = {
    generator: GeneratorService, pairer: PairerService,
    trainer: TrainerService, evaluator: EvaluatorService,
  };
  const facts = {} as Record<ServiceName, ServiceFacts>;
  for (const name of SERVICE_NAMES) {
    const def = definitions[name];
    if (def.name !== name || def.defaultPort !== ports[name] ||
        def.service.typeName !== descriptors[name].typeName) {
      throw new Error(`${name}: its definition disagrees with the exported port or descriptor`);
    }
    facts[name] = {
      name,
      defaultPort: def.defaultPort,
      healthService: def.service.typeName,
      spec: byName(jobServiceEnvSpec(name, def.defaultPort), own[name]),
      extra,
      workspace: `services/${name}`,
      version: version(`services/${name}`),
      writesOutputs: name !== 'generator',
    };
  }
  return facts;
}

/** Whether a declared variable must be set (it has no default). */
export function isRequired(variable: EnvVar<unknown>): boolean {
  try {
    variable.parse(undefined);
    return false;
  } catch (problem) {
    return problem === 'required';
  }
}

/** The @delta workspaces a workspace needs at run time, itself included ("libs/rpc", ...). */
export function runtimeClosure(workspace: string): string[] {
  const folders = new Map<string, string>();
  for (const base of ['libs', 'services']) {
    for (const dir of readDirNames(path.join(repoRoot, base))) {
      const pkg = readJson(path.join(repoRoot, base, dir, 'package.json'));
      if (pkg) folders.set(pkg.name, `${base}/${dir}`);
    }
  }
  const seen = new Set<string>();
  const visit = (folder: string) => {
    if (seen.has(folder)) return;
    seen.add(folder);
    const pkg = readJson(path.join(repoRoot, folder, 'package.json'));
    for (const dep of Object.keys(pkg?.dependencies ?? {})) {
      const target = folders.get(dep);
      if (target) visit(target);
    }
  };
  visit(workspace);
  return [...seen].sort();
}

/** The workspaces `tsc -b <workspace>` builds: its tsconfig project references, followed. */
export function buildClosure(workspace: string): string[] {
  const seen = new Set<string>();
  const visit = (folder: string) => {
    if (seen.has(folder)) return;
    seen.add(folder);
    const config = readJson(path.join(repoRoot, folder, 'tsconfig.json'));
    for (const ref of config?.references ?? []) {
      visit(path.relative(repoRoot, path.resolve(repoRoot, folder, ref.path)));
    }
  };
  visit(workspace);
  return [...seen].sort();
}

function readDirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function readJson(file: string): any {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
