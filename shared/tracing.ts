import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { errorMessage } from './errors';

/**
 * One image followed across services: ingest starts a trace, every event carries its W3C
 * `traceparent` in the bus message headers, and each consumer continues it. Context is passed
 * explicitly (headers in, headers out), not through the OpenTelemetry context manager, so it
 * survives the bus and needs no global registration.
 */
export const TRACEPARENT = 'traceparent';

/** What a handler knows of its trace: the id for its log lines and the headers to publish with. */
export interface TraceContext {
  traceId: string;
  /** `traceparent` of this step, for the events it publishes. */
  headers: Record<string, string>;
}

export interface TraceSpan extends TraceContext {
  /** Ends the span; an error marks it failed. */
  end(error?: unknown): void;
}

/**
 * Without an exporter spans still get ids (so trace ids travel and appear in logs) and are dropped
 * when they end: a provider without span processors records nothing.
 */
const UNEXPORTED = new BasicTracerProvider().getTracer('image-ingest');
let tracer: Tracer = UNEXPORTED;

/** version-traceid-parentid-flags (W3C Trace Context §3.2); ids of all zeros are invalid. */
const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

function parseTraceparent(value: string | undefined) {
  const match = value ? TRACEPARENT_FORMAT.exec(value.trim()) : null;
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  // ff is forbidden; version 00 has exactly four fields, later versions may add more (§3.2.4).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 1, isRemote: true };
}

function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/**
 * Starts a span: a child of the trace in `parent` (incoming message headers) when they carry a
 * valid traceparent, else the root of a new trace.
 */
export function startSpan(name: string, options: { kind: 'producer' | 'consumer'; parent?: Record<string, string>; attributes?: Attributes }): TraceSpan {
  const remote = parseTraceparent(options.parent?.[TRACEPARENT]);
  const context = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : ROOT_CONTEXT;
  const kind = options.kind === 'producer' ? SpanKind.PRODUCER : SpanKind.CONSUMER;
  const span = tracer.startSpan(name, { kind, attributes: options.attributes, root: !remote }, context);
  return {
    traceId: span.spanContext().traceId,
    headers: { [TRACEPARENT]: traceparentOf(span) },
    end(error?: unknown) {
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
        if (error instanceof Error) span.recordException(error);
      }
      span.end();
    },
  };
}

export interface Tracing {
  /** Sends the spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Exports spans over OTLP/HTTP (JSON) when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, + /v1/traces, as the OTLP spec says) is set; the exporter
 * reads OTEL_EXPORTER_OTLP_HEADERS itself. Without them nothing is exported.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): Tracing {
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT && `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  if (!url) return { shutdown: async () => undefined };
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1_000 })] });
  tracer = provider.getTracer('image-ingest');
  return {
    async shutdown() {
      tracer = UNEXPORTED;
      await provider.shutdown();
    },
  };
}
