// One canonical form for both sides of the comparison: the SDK's own records (ReadableSpan,
// ReadableLogRecord, ResourceMetrics, as handed to its OTLP exporter) and Vigil's file exporter
// output (OTLP/JSON lines). Both become plain objects with every OTLP field present (absent
// proto3 fields become their defaults), 64-bit integers as decimal strings, IDs as hex, and
// AnyValues tagged with their OTLP type, so that assert.deepStrictEqual compares them field by
// field, types included, and prints the differing field on failure.
//
// Conversion rules on the SDK side are the OTLP specification's (and so the SDK's exporters'):
// a JS number is an int when Number.isInteger, else a double; Uint8Array is bytes; a plain object
// is a kvlist; span kind is the API's kind + 1; span flags carry the W3C trace flags and the
// "has is_remote" / "is_remote" bits of the parent.

import { Buffer } from 'node:buffer';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';

// ---------- shared ----------

const byKey = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

// Attributes as [key, value] pairs sorted by key: OTLP does not order attributes, and duplicates
// (which must not happen) stay visible.
function sorted(pairs) {
  return pairs.sort(byKey);
}

// ---------- SDK side ----------

export function hrNanos(hr) {
  return (BigInt(Math.trunc(hr[0])) * 1000000000n + BigInt(Math.trunc(hr[1]))).toString();
}

export function jsValue(v) {
  if (typeof v === 'string') return { string: v };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { int: String(v) } : { double: v };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { array: v.map(jsValue) };
  if (v !== null && typeof v === 'object') return { kvlist: jsAttributes(v) };
  return {};
}

export function jsAttributes(obj) {
  return sorted(Object.keys(obj ?? {}).map((k) => [k, jsValue(obj[k])]));
}

function jsResource(resource) {
  return { attributes: jsAttributes(resource.attributes), droppedAttributesCount: 0, schemaUrl: resource.schemaUrl ?? '' };
}

function jsScope(scope) {
  return {
    name: scope.name,
    version: scope.version ?? '',
    attributes: jsAttributes(scope.attributes),
    droppedAttributesCount: 0,
    schemaUrl: scope.schemaUrl ?? '',
  };
}

function spanFlags(traceFlags, isRemote) {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

export function sdkSpan(span) {
  const ctx = span.spanContext();
  return {
    resource: jsResource(span.resource),
    scope: jsScope(span.instrumentationScope),
    span: {
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: span.parentSpanContext?.spanId ?? '',
      traceState: ctx.traceState?.serialize() ?? '',
      flags: spanFlags(ctx.traceFlags, span.parentSpanContext?.isRemote),
      name: span.name,
      kind: span.kind + 1,
      startTimeUnixNano: hrNanos(span.startTime),
      endTimeUnixNano: hrNanos(span.endTime),
      attributes: jsAttributes(span.attributes),
      droppedAttributesCount: span.droppedAttributesCount ?? 0,
      events: span.events.map((e) => ({
        timeUnixNano: hrNanos(e.time),
        name: e.name,
        attributes: jsAttributes(e.attributes),
        droppedAttributesCount: e.droppedAttributesCount ?? 0,
      })),
      droppedEventsCount: span.droppedEventsCount ?? 0,
      links: span.links.map((l) => ({
        traceId: l.context.traceId,
        spanId: l.context.spanId,
        traceState: l.context.traceState?.serialize() ?? '',
        attributes: jsAttributes(l.attributes),
        droppedAttributesCount: l.droppedAttributesCount ?? 0,
        flags: spanFlags(l.context.traceFlags, l.context.isRemote),
      })),
      droppedLinksCount: span.droppedLinksCount ?? 0,
      status: { code: span.status.code, message: span.status.message ?? '' },
    },
  };
}

export function sdkLogRecord(r) {
  return {
    resource: jsResource(r.resource),
    scope: jsScope(r.instrumentationScope),
    logRecord: {
      timeUnixNano: hrNanos(r.hrTime),
      observedTimeUnixNano: hrNanos(r.hrTimeObserved),
      severityNumber: r.severityNumber ?? 0,
      severityText: r.severityText ?? '',
      body: jsValue(r.body),
      attributes: jsAttributes(r.attributes),
      droppedAttributesCount: r.droppedAttributesCount ?? 0,
      flags: r.spanContext?.traceFlags ?? 0,
      traceId: r.spanContext?.traceId ?? '',
      spanId: r.spanContext?.spanId ?? '',
      eventName: r.eventName ?? '',
    },
  };
}

const TEMPORALITY = {
  [AggregationTemporality.DELTA]: 1,
  [AggregationTemporality.CUMULATIVE]: 2,
};

// One entry per data point, each with its metric's descriptor and type.
export function sdkMetricPoints(resourceMetrics) {
  const out = [];
  const resource = jsResource(resourceMetrics.resource);
  for (const sm of resourceMetrics.scopeMetrics) {
    const scope = jsScope(sm.scope);
    for (const m of sm.metrics) {
      const metric = {
        name: m.descriptor.name,
        description: m.descriptor.description ?? '',
        unit: m.descriptor.unit ?? '',
      };
      for (const p of m.dataPoints) {
        const point = {
          attributes: jsAttributes(p.attributes),
          startTimeUnixNano: hrNanos(p.startTime),
          timeUnixNano: hrNanos(p.endTime),
          flags: 0,
        };
        switch (m.dataPointType) {
          case DataPointType.SUM:
            metric.type = 'sum';
            metric.aggregationTemporality = TEMPORALITY[m.aggregationTemporality];
            metric.isMonotonic = m.isMonotonic;
            point.value = numberValue(m.descriptor.valueType, p.value);
            break;
          case DataPointType.GAUGE:
            metric.type = 'gauge';
            point.value = numberValue(m.descriptor.valueType, p.value);
            break;
          case DataPointType.HISTOGRAM:
            metric.type = 'histogram';
            metric.aggregationTemporality = TEMPORALITY[m.aggregationTemporality];
            Object.assign(point, {
              count: String(p.value.count),
              sum: p.value.sum ?? null,
              bucketCounts: p.value.buckets.counts.map(String),
              explicitBounds: p.value.buckets.boundaries,
              min: p.value.min ?? null,
              max: p.value.max ?? null,
            });
            break;
          case DataPointType.EXPONENTIAL_HISTOGRAM:
            metric.type = 'exponentialHistogram';
            metric.aggregationTemporality = TEMPORALITY[m.aggregationTemporality];
            Object.assign(point, {
              count: String(p.value.count),
              sum: p.value.sum ?? null,
              scale: p.value.scale,
              zeroCount: String(p.value.zeroCount),
              positive: { offset: p.value.positive.offset, bucketCounts: p.value.positive.bucketCounts.map(String) },
              negative: { offset: p.value.negative.offset, bucketCounts: p.value.negative.bucketCounts.map(String) },
              min: p.value.min ?? null,
              max: p.value.max ?? null,
              zeroThreshold: 0,
            });
            break;
          default:
            throw new Error(`unexpected SDK data point type ${m.dataPointType} for ${m.descriptor.name}`);
        }
        out.push({ resource, scope, metric: { ...metric }, point });
      }
    }
  }
  return out;
}

function numberValue(valueType, v) {
  return valueType === ValueType.INT ? { asInt: String(v) } : { asDouble: v };
}

// ---------- OTLP/JSON side (Vigil's file exporter) ----------

// 64-bit integers: the OTLP/JSON rules allow a decimal string or a number.
function u64(v, def = '0') {
  if (v === undefined) return def;
  if (typeof v === 'string' || typeof v === 'number') {
    try {
      return BigInt(v).toString();
    } catch {
      return { notAnInteger: v };
    }
  }
  return { notAnInteger: v };
}

// A double: a JSON number, or "NaN" / "Infinity" / "-Infinity" strings.
function dbl(v, def) {
  if (v === undefined) return def;
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
  return { notADouble: v };
}

function typed(v, type, def) {
  if (v === undefined) return def;
  return typeof v === type ? v : { [`not_${type}`]: v };
}

export function otlpValue(v) {
  if (v === undefined || v === null) return {};
  const keys = Object.keys(v);
  if (keys.length > 1) return { moreThanOneValue: v };
  if ('stringValue' in v) return { string: typed(v.stringValue, 'string') };
  if ('boolValue' in v) return { bool: typed(v.boolValue, 'boolean') };
  if ('intValue' in v) return { int: u64(v.intValue) };
  if ('doubleValue' in v) return { double: dbl(v.doubleValue) };
  if ('bytesValue' in v) return { bytes: typed(v.bytesValue, 'string') };
  if ('arrayValue' in v) return { array: (v.arrayValue?.values ?? []).map(otlpValue) };
  if ('kvlistValue' in v) return { kvlist: otlpAttributes(v.kvlistValue?.values) };
  return keys.length === 0 ? {} : { unknownValue: v };
}

export function otlpAttributes(list) {
  return sorted((list ?? []).map((kv) => [kv.key, otlpValue(kv.value)]));
}

function otlpResource(r, schemaUrl) {
  return {
    attributes: otlpAttributes(r?.attributes),
    droppedAttributesCount: r?.droppedAttributesCount ?? 0,
    schemaUrl: schemaUrl ?? '',
  };
}

function otlpScope(s, schemaUrl) {
  return {
    name: s?.name ?? '',
    version: s?.version ?? '',
    attributes: otlpAttributes(s?.attributes),
    droppedAttributesCount: s?.droppedAttributesCount ?? 0,
    schemaUrl: schemaUrl ?? '',
  };
}

// Walks resource -> scope -> items of every line that holds the given signal.
function* items(lines, resourcesKey, scopesKey, itemsKey) {
  for (const line of lines) {
    for (const r of line[resourcesKey] ?? []) {
      const resource = otlpResource(r.resource, r.schemaUrl);
      for (const s of r[scopesKey] ?? []) {
        const scope = otlpScope(s.scope, s.schemaUrl);
        for (const item of s[itemsKey] ?? []) yield { resource, scope, item };
      }
    }
  }
}

export function fileSpans(lines) {
  const out = [];
  for (const { resource, scope, item: s } of items(lines, 'resourceSpans', 'scopeSpans', 'spans')) {
    out.push({
      resource,
      scope,
      span: {
        traceId: s.traceId ?? '',
        spanId: s.spanId ?? '',
        parentSpanId: s.parentSpanId ?? '',
        traceState: s.traceState ?? '',
        flags: s.flags ?? 0,
        name: s.name ?? '',
        kind: s.kind ?? 0,
        startTimeUnixNano: u64(s.startTimeUnixNano),
        endTimeUnixNano: u64(s.endTimeUnixNano),
        attributes: otlpAttributes(s.attributes),
        droppedAttributesCount: s.droppedAttributesCount ?? 0,
        events: (s.events ?? []).map((e) => ({
          timeUnixNano: u64(e.timeUnixNano),
          name: e.name ?? '',
          attributes: otlpAttributes(e.attributes),
          droppedAttributesCount: e.droppedAttributesCount ?? 0,
        })),
        droppedEventsCount: s.droppedEventsCount ?? 0,
        links: (s.links ?? []).map((l) => ({
          traceId: l.traceId ?? '',
          spanId: l.spanId ?? '',
          traceState: l.traceState ?? '',
          attributes: otlpAttributes(l.attributes),
          droppedAttributesCount: l.droppedAttributesCount ?? 0,
          flags: l.flags ?? 0,
        })),
        droppedLinksCount: s.droppedLinksCount ?? 0,
        status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
      },
    });
  }
  return out;
}

export function fileLogRecords(lines) {
  const out = [];
  for (const { resource, scope, item: r } of items(lines, 'resourceLogs', 'scopeLogs', 'logRecords')) {
    out.push({
      resource,
      scope,
      logRecord: {
        timeUnixNano: u64(r.timeUnixNano),
        observedTimeUnixNano: u64(r.observedTimeUnixNano),
        severityNumber: r.severityNumber ?? 0,
        severityText: r.severityText ?? '',
        body: otlpValue(r.body),
        attributes: otlpAttributes(r.attributes),
        droppedAttributesCount: r.droppedAttributesCount ?? 0,
        flags: r.flags ?? 0,
        traceId: r.traceId ?? '',
        spanId: r.spanId ?? '',
        eventName: r.eventName ?? '',
      },
    });
  }
  return out;
}

function otlpNumber(p) {
  if ('asInt' in p) return { asInt: u64(p.asInt) };
  if ('asDouble' in p) return { asDouble: dbl(p.asDouble) };
  return { noValue: true };
}

export function fileMetricPoints(lines) {
  const out = [];
  for (const { resource, scope, item: m } of items(lines, 'resourceMetrics', 'scopeMetrics', 'metrics')) {
    const metric = { name: m.name ?? '', description: m.description ?? '', unit: m.unit ?? '' };
    const types = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'].filter((t) => t in m);
    if (types.length !== 1) {
      out.push({ resource, scope, metric: { ...metric, type: `invalid: data keys ${JSON.stringify(types)}` }, point: {} });
      continue;
    }
    const type = types[0];
    const data = m[type];
    metric.type = type;
    if (type !== 'gauge' && type !== 'summary') metric.aggregationTemporality = data.aggregationTemporality ?? 0;
    if (type === 'sum') metric.isMonotonic = data.isMonotonic ?? false;
    for (const p of data.dataPoints ?? []) {
      const point = {
        attributes: otlpAttributes(p.attributes),
        startTimeUnixNano: u64(p.startTimeUnixNano),
        timeUnixNano: u64(p.timeUnixNano),
        flags: p.flags ?? 0,
      };
      if (p.exemplars !== undefined) point.exemplars = p.exemplars;  // the SDK sends none
      if (type === 'sum' || type === 'gauge') {
        point.value = otlpNumber(p);
      } else if (type === 'histogram') {
        Object.assign(point, {
          count: u64(p.count),
          sum: dbl(p.sum, null),
          bucketCounts: (p.bucketCounts ?? []).map((c) => u64(c)),
          explicitBounds: (p.explicitBounds ?? []).map((b) => dbl(b)),
          min: dbl(p.min, null),
          max: dbl(p.max, null),
        });
      } else if (type === 'exponentialHistogram') {
        const buckets = (b) => ({ offset: b?.offset ?? 0, bucketCounts: (b?.bucketCounts ?? []).map((c) => u64(c)) });
        Object.assign(point, {
          count: u64(p.count),
          sum: dbl(p.sum, null),
          scale: p.scale ?? 0,
          zeroCount: u64(p.zeroCount),
          positive: buckets(p.positive),
          negative: buckets(p.negative),
          min: dbl(p.min, null),
          max: dbl(p.max, null),
          zeroThreshold: dbl(p.zeroThreshold, 0),
        });
      } else {
        point.summary = p;
      }
      out.push({ resource, scope, metric: { ...metric }, point });
    }
  }
  return out;
}

// The value of a string resource attribute in a canonical resource, or undefined.
export function resourceString(resource, key) {
  const kv = resource.attributes.find(([k]) => k === key);
  return kv ? kv[1].string : undefined;
}
