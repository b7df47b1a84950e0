// Starts one Delta service: checks its environment, starts telemetry and the JSON logger,
// connects to Kafka, opens the jobs topic, serves start/watch/get/cancel (and any extra methods)
// over gRPC, resumes the jobs this instance left unfinished, and shuts down in order on SIGTERM.
// What a job does is the service's own `run` function.
import { hostname } from 'node:os';
import type { DescService } from '@bufbuild/protobuf';
import { JOBS_TOPIC } from '@delta/contracts';
import {
  JobManager, KafkaJobStore, type AnyJob, type JobKind, type RunningJob,
} from '@delta/jobs';
import {
  Code, createServer, env, invalidArgument, readEnv, serverEnvFrom, serverEnvSpec,
  type CallContext, type RpcServer, type ServiceBinding,
} from '@delta/rpc';
import { createStream, type Stream } from '@delta/stream';
import {
  createLogger, startTelemetry, withRun, type Logger, type Telemetry, type TelemetryOptions,
} from '@delta/telemetry';
import {
  ROOT_CONTEXT, SpanStatusCode, context, propagation, trace,
} from '@opentelemetry/api';
import { makeRoots, parseRootList, type Roots } from './roots.js';

type SpecOf<J extends AnyJob> = NonNullable<J['spec']>;

/** What a service's code gets from the runtime. */
export interface ServiceContext {
  readonly name: string;
  readonly logger: Logger;
  readonly stream: Stream;
  readonly roots: Roots;
  readonly telemetry: Telemetry;
  /** This instance's identity; it owns and resumes the jobs it started. */
  readonly instanceId: string;
  /** The variables the service was started with, for its own settings (`readEnv(spec, env)`). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A service built on the shared runtime: its RPC surface and the work its jobs do. */
export interface JobServiceDefinition<J extends AnyJob> {
  /** "generator", "pairer", "trainer" or "evaluator". */
  name: string;
  defaultPort: number;
  kind: JobKind<J>;
  /** The generated service descriptor; its job methods are named Start<Noun>, Watch<Noun>... */
  service: DescService;
  /**
   * Checks a spec before the job is queued and fills defaults in place; throws INVALID_ARGUMENT
   * (naming the field, "spec.model: required") or PERMISSION_DENIED for paths outside the roots.
   */
  prepare?(spec: SpecOf<J>, ctx: ServiceContext): Promise<void>;
  /** Does the job's work; see RunningJob for cancellation and progress. */
  run(job: RunningJob<J>, ctx: ServiceContext): Promise<void>;
  /** Handlers of methods other than the four job methods (the evaluator's Score). */
  extraMethods?(ctx: ServiceContext): Record<string, (req: never, call: CallContext) => unknown>;
  /** Jobs run at once by one instance. Default 1. */
  concurrency?: number;
}

/** A started service. */
export interface RunningService<J extends AnyJob> {
  readonly server: RpcServer;
  readonly jobs: JobManager<J>;
  readonly context: ServiceContext;
  /** Graceful stop: in-flight calls end, running jobs checkpoint and stay resumable. */
  stop(reason?: string): Promise<void>;
}

export interface StartOptions {
  /** Variables to read; default process.env. */
  env?: Record<string, string | undefined>;
  /** On SIGTERM/SIGINT stop gracefully and exit (the `main` of a service turns this on). */
  handleSignals?: boolean;
  /** Extra telemetry settings (in-memory exporters in tests). */
  telemetry?: Partial<TelemetryOptions>;
  /** Start no telemetry of its own (a test that started its own in-memory one). */
  externalTelemetry?: Telemetry;
  logger?: Logger;
}

/** Variables every job service reads, beside the gRPC server's. */
export function jobServiceEnvSpec(name: string, defaultPort: number) {
  return {
    ...serverEnvSpec(defaultPort),
    brokers: env.string('DELTA_KAFKA_BROKERS', { doc: 'Kafka bootstrap servers, host:port,...' }),
    instanceId: env.string('DELTA_INSTANCE_ID', { default: `${name}@${hostname()}`,
      doc: 'stable identity of this instance (a pod name); it resumes the jobs it owns' }),
    jobsTopic: env.string('DELTA_JOBS_TOPIC', { default: JOBS_TOPIC,
      doc: 'compacted topic holding every job\'s latest state' }),
    modelRoots: env.string('DELTA_MODEL_ROOTS', { default: '',
      doc: 'folders (":"-separated) model paths in requests must lie in' }),
    dataRoots: env.string('DELTA_DATA_ROOTS', { default: '',
      doc: 'folders (":"-separated) data files in requests must lie in' }),
    outputRoots: env.string('DELTA_OUTPUT_ROOTS', { default: '',
      doc: 'folders (":"-separated) outputs in requests are written under' }),
    concurrency: env.int('DELTA_JOB_CONCURRENCY', { default: 0, min: 0, max: 64,
      doc: 'jobs run at once; 0 takes the service\'s default' }),
  };
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Starts a service; resolves once it serves and has resumed its unfinished jobs. */
export async function startJobService<J extends AnyJob>(
  def: JobServiceDefinition<J>,
  options: StartOptions = {},
): Promise<RunningService<J>> {
  const values = readEnv(jobServiceEnvSpec(def.name, def.defaultPort), options.env ?? process.env);

  const serverEnv = serverEnvFrom(values);

  const telemetry = options.externalTelemetry ?? await startTelemetry({
    serviceName: `delta-${def.name}`, ...(options.env ? { env: options.env } : {}), ...options.telemetry,
  });
  const vars = options.env ?? process.env;
  const logger = options.logger ?? createLogger({
    name: def.name, ...(vars.DELTA_LOG_LEVEL ? { level: vars.DELTA_LOG_LEVEL } : {}),
  });
  const kafkaLog = logger.child({ component: 'kafka' });
  const stream = createStream({
    brokers: values.brokers,
    clientId: `delta-${def.name}`,
    logger: {
      debug: (message, fields) => kafkaLog.debug(fields, message),
      info: (message, fields) => kafkaLog.info(fields, message),
      warn: (message, fields) => kafkaLog.warn(fields, message),
      error: (message, fields) => kafkaLog.error(fields, message),
    },
  });
  const ctx: ServiceContext = {
    name: def.name,
    logger,
    stream,
    telemetry,
    instanceId: values.instanceId,
    env: vars,
    roots: makeRoots(parseRootList(values.modelRoots), parseRootList(values.dataRoots),
      parseRootList(values.outputRoots)),
  };

  const store = await KafkaJobStore.open(stream, { topic: values.jobsTopic });
  const tracer = trace.getTracer(`delta-${def.name}`);
  const jobs = new JobManager<J>({
    kind: def.kind,
    store,
    owner: values.instanceId,
    concurrency: values.concurrency || def.concurrency || 1,
    onError: (error, jobId) => logger.error({ err: error, job_id: jobId }, 'job error'),
    run: (job) => {
      // The job's span continues the trace of the call that started it, even after a restart.
      const parent = job.traceparent
        ? propagation.extract(ROOT_CONTEXT, { traceparent: job.traceparent })
        : ROOT_CONTEXT;
      return context.with(parent, () => withRun({ runId: job.runId, jobId: job.jobId }, () =>
        tracer.startActiveSpan(`${def.kind.name} job`, {
          attributes: { 'delta.run_id': job.runId, 'delta.job_id': job.jobId,
            'delta.job.resumed': job.resumed },
        }, async (span) => {
          logger.info({ resumed: job.resumed }, `${def.kind.name} job started`);
          try {
            await def.run(job, ctx);
            logger.info(`${def.kind.name} job ended`);
          } catch (err) {
            span.recordException(err as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
            logger.warn({ err }, `${def.kind.name} job failed`);
            throw err;
          } finally {
            span.end();
          }
        })));
    },
  });

  const noun = capitalise(def.kind.name);
  const impl: Record<string, unknown> = {
    [`start${noun}`]: async (req: { runId: string; jobId: string; spec?: SpecOf<J> }) => {
      if (!req.spec) throw invalidArgument('spec', 'required');
      await def.prepare?.(req.spec, ctx);
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const job = await jobs.start({
        spec: req.spec,
        ...(req.runId ? { runId: req.runId } : {}),
        ...(req.jobId ? { jobId: req.jobId } : {}),
        ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
      });
      return { jobId: job.meta!.jobId, job };
    },
    [`watch${noun}`]: async function* (req: { jobId: string }, call: CallContext) {
      for await (const job of jobs.watch(req.jobId, call.signal)) yield { job };
    },
    [`get${noun}`]: async (req: { jobId: string }) => ({ job: await jobs.get(req.jobId) }),
    [`cancel${noun}`]: async (req: { jobId: string }) => ({ job: await jobs.cancel(req.jobId) }),
    ...def.extraMethods?.(ctx),
  };
  const binding: ServiceBinding = { service: def.service, impl };

  const server = await createServer({
    services: [binding],
    host: serverEnv.host,
    port: serverEnv.port,
    ...(serverEnv.tls ? { tls: serverEnv.tls } : {}),
    maxMessageBytes: serverEnv.maxMessageBytes,
    shutdownGraceMs: serverEnv.shutdownGraceMs,
    handleSignals: options.handleSignals ?? false,
    onError: (error, method) => {
      const level = error.code === Code.INTERNAL ? 'error' : 'info';
      logger[level]({ err: error.cause ?? error, method, code: error.code }, error.message);
    },
  });
  server.onShutdown('jobs', () => jobs.shutdown());
  server.onShutdown('kafka', () => store.close());
  if (!options.externalTelemetry) server.onShutdown('telemetry', () => telemetry.shutdown());

  const resumed = await jobs.restore();
  logger.info({ address: server.address, instance: values.instanceId, resumed },
    `${def.name} serving`);

  return {
    server,
    jobs,
    context: ctx,
    stop: async (reason = 'stop') => { await server.shutdown(reason); },
  };
}
