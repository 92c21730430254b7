// Drives the OpenTelemetry JS SDK (NodeSDK from @opentelemetry/sdk-node, as an application would
// set it up) against Vigil over one OTLP transport, and records what the SDK handed to its OTLP
// exporters: each OTLP exporter is wrapped by a recorder that snapshots the SDK's records (in the
// canonical form of otlp_json.mjs) and the exporter's result, then delegates.

import { context, metrics, propagation, SpanKind, SpanStatusCode, trace, TraceFlags, ValueType } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationType, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { core, NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { sdkLogRecord, sdkMetricPoints, sdkSpan } from './otlp_json.mjs';

// The three transports. Each uses its own exporters, compression and metric temporality, so one
// run covers more of what SDKs send; `tag` is the transport's service.name suffix.
export const TRANSPORTS = {
  'http/protobuf': {
    tag: 'http-protobuf',
    exporters: (vigil) => ({
      traces: new TraceProto({ url: httpUrl(vigil, '/v1/traces'), ...COMMON }),
      logs: new LogsProto({ url: httpUrl(vigil, '/v1/logs'), ...COMMON }),
      metrics: new MetricsProto({
        url: httpUrl(vigil, '/v1/metrics'),
        temporalityPreference: AggregationTemporalityPreference.CUMULATIVE,
        ...COMMON,
      }),
    }),
  },
  'http/json': {
    tag: 'http-json',
    exporters: (vigil) => ({
      traces: new TraceJson({ url: httpUrl(vigil, '/v1/traces'), compression: 'gzip', ...COMMON }),
      logs: new LogsJson({ url: httpUrl(vigil, '/v1/logs'), compression: 'gzip', ...COMMON }),
      metrics: new MetricsJson({
        url: httpUrl(vigil, '/v1/metrics'),
        compression: 'gzip',
        temporalityPreference: AggregationTemporalityPreference.DELTA,
        ...COMMON,
      }),
    }),
  },
  grpc: {
    tag: 'grpc',
    exporters: (vigil) => ({
      traces: new TraceGrpc({ url: grpcUrl(vigil), compression: 'gzip', ...COMMON }),
      logs: new LogsGrpc({ url: grpcUrl(vigil), ...COMMON }),
      metrics: new MetricsGrpc({
        url: grpcUrl(vigil),
        temporalityPreference: AggregationTemporalityPreference.LOWMEMORY,
        ...COMMON,
      }),
    }),
  },
};

const COMMON = { timeoutMillis: 10000 };
const httpUrl = (vigil, p) => `http://127.0.0.1:${vigil.httpPort}${p}`;
const grpcUrl = (vigil) => `http://127.0.0.1:${vigil.grpcPort}`;

// What the SDK exported over one transport, per signal: `records` in canonical form, `results`
// the exporter's results ({code, error}) for each export call.
function sink() {
  return { records: [], results: [] };
}

// An OTLPExporterError carries the HTTP status or gRPC code and the response body.
function recordResult(s, result) {
  const err = result.error;
  let error;
  if (err) {
    error = String(err);
    if (err.code !== undefined) error += ` (code ${err.code})`;
    if (err.data) error += `: ${String(err.data).slice(0, 2000)}`;
  }
  s.results.push({ code: result.code, error });
}

class RecordingSpanExporter {
  constructor(inner, s) {
    this.inner = inner;
    this.sink = s;
  }
  export(spans, done) {
    for (const span of spans) this.sink.records.push(sdkSpan(span));
    this.inner.export(spans, (result) => {
      recordResult(this.sink, result);
      done(result);
    });
  }
  shutdown() {
    return this.inner.shutdown();
  }
  forceFlush() {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class RecordingLogExporter {
  constructor(inner, s) {
    this.inner = inner;
    this.sink = s;
  }
  export(records, done) {
    for (const r of records) this.sink.records.push(sdkLogRecord(r));
    this.inner.export(records, (result) => {
      recordResult(this.sink, result);
      done(result);
    });
  }
  shutdown() {
    return this.inner.shutdown();
  }
  forceFlush() {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class RecordingMetricExporter {
  constructor(inner, s) {
    this.inner = inner;
    this.sink = s;
  }
  export(resourceMetrics, done) {
    this.sink.records.push(...sdkMetricPoints(resourceMetrics));
    this.inner.export(resourceMetrics, (result) => {
      recordResult(this.sink, result);
      done(result);
    });
  }
  // The OTLP exporter decides temporality and aggregation; the reader asks the exporter it has.
  selectAggregationTemporality(instrumentType) {
    return this.inner.selectAggregationTemporality(instrumentType);
  }
  selectAggregation(instrumentType) {
    return this.inner.selectAggregation(instrumentType);
  }
  shutdown() {
    return this.inner.shutdown();
  }
  forceFlush() {
    return this.inner.forceFlush();
  }
}

export const SUCCESS = core.ExportResultCode.SUCCESS;

// Spans and log records sent on top of the hand-made ones, to need several export requests.
export const BULK = 600;

// Attribute values of every type span attributes allow (bytes and maps are not span attribute
// values in the JS API; the SDK drops them, so they are covered by log records instead).
function everyType(prefix) {
  return {
    [`${prefix}.string`]: 'héllo wörld ✓ "quoted" \\ back\\slash\nnew line\ttab \u0001 \u{1F600}',
    [`${prefix}.string.empty`]: '',
    [`${prefix}.bool.true`]: true,
    [`${prefix}.bool.false`]: false,
    [`${prefix}.int`]: 42,
    [`${prefix}.int.zero`]: 0,
    [`${prefix}.int.negative`]: -7,
    [`${prefix}.int.max_safe`]: Number.MAX_SAFE_INTEGER,
    [`${prefix}.int.min_safe`]: Number.MIN_SAFE_INTEGER,
    [`${prefix}.int.above_32_bits`]: 2 ** 40 + 3,
    [`${prefix}.double`]: 3.25,
    [`${prefix}.double.negative`]: -1234.5678,
    [`${prefix}.double.shortest_round_trip`]: 0.1 + 0.2,
    [`${prefix}.double.tiny`]: 1.5e-300,
    [`${prefix}.double.many_digits`]: 123456789.12345679,  // (JS numbers that are whole go out as ints)
    [`${prefix}.strings`]: ['a', '', 'ü', 'with space'],
    [`${prefix}.bools`]: [true, false, true],
    [`${prefix}.ints`]: [1, -2, 0, Number.MAX_SAFE_INTEGER],
    [`${prefix}.doubles`]: [1.5, -0.25, 1e-9],
    [`${prefix}.numbers.mixed`]: [1, 2.5],
    [`${prefix}.array.empty`]: [],
  };
}

// Each emitter uses the global providers NodeSDK registered, as application code does.
function emitTraces(run) {
  // (trace.getTracer drops the options argument; the provider's getTracer keeps the schema URL.)
  const tracer = trace.getTracerProvider().getTracer('vigil-interop.traces', '1.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
  const t0 = [1700000000, 123456789];  // explicit times: nanosecond precision must survive
  const at = (ms) => [t0[0] + Math.floor((t0[1] / 1e6 + ms) / 1000), (t0[1] + ms * 1e6) % 1e9];

  const root = tracer.startSpan('GET /checkout', {
    kind: SpanKind.SERVER,
    startTime: t0,
    attributes: { ...everyType('attr'), 'interop.run': run },
  });
  root.addEvent('request.received', { 'event.string': 'x', 'event.int': 7, 'event.double': 0.5, 'event.bool': false, 'event.strings': ['p', 'q'] }, at(1));
  root.addEvent('no attributes', at(2));
  const rootCtx = trace.setSpan(context.active(), root);

  const child = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, startTime: at(3), attributes: { 'db.system': 'postgresql', 'db.rows': 3 } }, rootCtx);
  const err = new Error('connection reset by peer');
  child.recordException(err, at(5));  // an "exception" event with a multi-line stack trace
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset by peer: "db-1" \u00e9' });
  const childCtx = trace.setSpan(rootCtx, child);

  const grandchild = tracer.startSpan('decode row', { kind: SpanKind.INTERNAL, startTime: at(4) }, childCtx);
  grandchild.setStatus({ code: SpanStatusCode.OK });
  grandchild.end(at(4.5));
  child.end(at(6));

  const producer = tracer.startSpan('orders publish', {
    kind: SpanKind.PRODUCER,
    startTime: at(7),
    links: [{ context: child.spanContext(), attributes: { 'link.reason': 'caused by', 'link.retry': 1 } }],
  }, rootCtx);
  producer.end(at(8));
  root.end(at(10));

  // A consumer continuing a remote trace: remote parent, trace state, a second link.
  const remoteParent = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: propagationTraceState('vigil=t61rcWkgMzE,other=1'),
  };
  const consumer = tracer.startSpan('orders process', {
    kind: SpanKind.CONSUMER,
    links: [{ context: producer.spanContext() }],
    attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': 2 },
  }, trace.setSpanContext(context.active(), remoteParent));
  consumer.setAttribute('late.attribute', 'set after start');
  consumer.updateName('orders process (renamed) ✓');
  consumer.end();  // default (current) times

  // Enough plain children of the root for the SDK to export more than one batch (512 per export).
  for (let i = 0; i < BULK; i++) tracer.startSpan(`bulk ${i}`, { attributes: { 'bulk.index': i } }, rootCtx).end();

  return rootCtx;
}

// A W3C trace state from a header value, through the propagation API (no SDK internals).
function propagationTraceState(header) {
  const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: header };
  const ctx = propagation.extract(context.active(), carrier);
  const state = trace.getSpanContext(ctx)?.traceState;
  if (!state) throw new Error('the W3C propagator did not parse the test trace state');
  return state;
}

function emitLogs(run, spanCtx) {
  const logger = logs.getLogger('vigil-interop.logs', '2.0.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
    attributes: { 'scope.attr': 'logs scope', 'scope.int': 3 },
  });
  let seq = 0;
  const emit = (record) => logger.emit({ ...record, attributes: { 'interop.seq': seq++, 'interop.run': run, ...record.attributes } });

  context.with(spanCtx, () => {
    emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'a plain string body, in span context', attributes: everyType('attr') });
  });
  emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: 'error',
    eventName: 'order.placed',
    body: {
      message: 'order placed',
      order: { id: 123, total: 99.95, items: ['a', 'b'], paid: true, nested: { deeper: [1, { x: 'y' }] } },
      raw: new Uint8Array([0, 1, 2, 253, 254, 255]),
      nothing: null,
    },
    attributes: { 'attr.map': { a: 1, b: { c: 'd' } }, 'attr.bytes': new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 'attr.list.of.maps': [{ k: 'v' }, 2] },
  });
  emit({ severityNumber: SeverityNumber.DEBUG2, severityText: 'DEBUG2', body: new Uint8Array([104, 105, 0, 255]) });
  emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: [1, 'two', 3.5, false, [null]] });
  emit({
    severityNumber: SeverityNumber.FATAL4,
    severityText: 'CRITICAL',
    timestamp: [1700000000, 999999999],
    observedTimestamp: [1700000001, 1],
  });
  emit({ severityNumber: SeverityNumber.TRACE, body: 42 });  // a number without text
  emit({ severityText: 'text only, no number', body: 0.125 });
  emit({ body: '' });
  for (let i = 0; i < BULK; i++) emit({ severityNumber: SeverityNumber.INFO, body: `bulk ${i}` });
}

function emitMetrics() {
  const meter = metrics.getMeter('vigil-interop.metrics', '3.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });

  const requests = meter.createCounter('interop.requests', { description: 'Requests served', unit: '{request}', valueType: ValueType.INT });
  requests.add(1, { route: '/a', ok: true });
  requests.add(2, { route: '/a', ok: true });
  requests.add(5, { route: '/b', ok: false, code: 503 });

  const bytes = meter.createCounter('interop.bytes', { description: 'Bytes (double counter)', unit: 'By' });
  bytes.add(1.5);
  bytes.add(2.25);

  const depth = meter.createUpDownCounter('interop.queue.depth', { valueType: ValueType.INT });
  depth.add(10, { queue: 'q1' });
  depth.add(-3, { queue: 'q1' });
  depth.add(-2, { queue: 'q2' });

  const latency = meter.createHistogram('interop.latency', {
    description: 'Latency with explicit buckets',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.1, 1, 10] },
  });
  for (const v of [0.003, 0.05, 0.05, 0.5, 20]) latency.record(v, { method: 'GET' });
  latency.record(0.25, { method: 'POST' });

  const size = meter.createHistogram('interop.size', { unit: 'By', valueType: ValueType.INT });  // default buckets
  for (const v of [100, 7000, 20000]) size.record(v);

  const exp = meter.createHistogram('interop.exp.latency', { unit: 'ms' });  // exponential, by view
  for (const v of [0, 0.5, 1, 2, 4, 1000]) exp.record(v, { path: '/x' });

  const temperature = meter.createObservableGauge('interop.temperature', { unit: 'Cel' });
  temperature.addCallback((r) => {
    r.observe(21.5, { room: 'a' });
    r.observe(-3.25, { room: 'b' });
  });
  const threads = meter.createObservableGauge('interop.threads', { valueType: ValueType.INT });
  threads.addCallback((r) => r.observe(12));
  const cpu = meter.createObservableCounter('interop.cpu.time', { unit: 's' });
  cpu.addCallback((r) => r.observe(12.75, { state: 'user' }));
  const open = meter.createObservableUpDownCounter('interop.open.files', { valueType: ValueType.INT });
  open.addCallback((r) => r.observe(-4));
}

// Runs the SDK over one transport; returns {traces, logs, metrics} sinks (and shutdownError when
// the SDK's shutdown failed). Shutting the SDK down
// flushes every signal (the metric reader collects and exports once, at shutdown).
export async function emitOver(transport, vigil, run) {
  const def = TRANSPORTS[transport];
  const exporters = def.exporters(vigil);
  const sinks = { traces: sink(), logs: sink(), metrics: sink() };

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': `vigil-interop-${def.tag}`,
      'service.version': '1.2.3',
      'interop.transport': transport,
      'interop.run': run,
      'interop.res.int': 7,
      'interop.res.double': 2.5,
      'interop.res.bool': true,
      'interop.res.strings': ['x', 'y'],
    }),
    spanProcessors: [new BatchSpanProcessor(new RecordingSpanExporter(exporters.traces, sinks.traces))],
    logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new RecordingLogExporter(exporters.logs, sinks.logs) })],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new RecordingMetricExporter(exporters.metrics, sinks.metrics),
        exportIntervalMillis: 600000,  // only the final collection at shutdown
        exportTimeoutMillis: 15000,
      }),
    ],
    views: [{ instrumentName: 'interop.exp.latency', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    instrumentations: [],
  });
  sdk.start();
  try {
    const spanCtx = emitTraces(run);
    emitLogs(run, spanCtx);
    emitMetrics();
  } finally {
    // A failed export rejects the shutdown; the exporters' own results tell which one.
    try {
      await sdk.shutdown();
    } catch (err) {
      sinks.shutdownError = err;
    }
    // NodeSDK registers global providers; release them so the next transport's SDK can.
    trace.disable();
    context.disable();
    propagation.disable();
    metrics.disable();
    logs.disable();
  }
  return sinks;
}
