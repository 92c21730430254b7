// Interop: the OpenTelemetry JS SDK (NodeSDK with its OTLP exporters) sends traces, logs and
// metrics to a real Vigil over OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC. Vigil writes
// them with its file exporter (OTLP/JSON lines); each record there is compared field by field,
// types included, with the record the SDK handed to its exporter.
//
// Run by ctest (label `interop`) with VIGIL_BINARY set; `npm ci` in tests/interop first.
// VIGIL_INTEROP_TRANSPORTS (comma-separated, default all three) narrows the transports.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { interopRequire, requiredFile, Vigil } from './lib/vigil.mjs';

const ALL_TRANSPORTS = ['http/protobuf', 'http/json', 'grpc'];
const START_TIMEOUT_MS = 60000;
const EMIT_TIMEOUT_MS = 60000;  // per transport (its exporters time out after 10 s per export)
const STOP_TIMEOUT_MS = 30000;

// ---------- preconditions: fail loudly, before importing the SDK ----------

const binary = requiredFile('VIGIL_BINARY', 'the built vigil binary');
interopRequire('@opentelemetry/sdk-node', 'The OpenTelemetry JS SDK');
const transports = (process.env.VIGIL_INTEROP_TRANSPORTS ?? ALL_TRANSPORTS.join(','))
  .split(',').map((s) => s.trim()).filter(Boolean);
for (const t of transports) {
  if (!ALL_TRANSPORTS.includes(t)) {
    console.error(`VIGIL_INTEROP_TRANSPORTS: unknown transport ${JSON.stringify(t)} (known: ${ALL_TRANSPORTS.join(', ')})`);
    process.exit(1);
  }
}
// The SDK reads OTEL_* variables; the test decides everything itself.
for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_')) delete process.env[k];

const { diag, DiagLogLevel } = await import('@opentelemetry/api');
const { BULK, emitOver, SUCCESS } = await import('./lib/emit.mjs');
const { fileLogRecords, fileMetricPoints, fileSpans, resourceString } = await import('./lib/otlp_json.mjs');

// The SDK's own warnings (dropped attributes, failed exports, partial success) are kept for the
// failure report.
const sdkDiag = [];
diag.setLogger({
  error: (...a) => sdkDiag.push(`error: ${a.join(' ')}`),
  warn: (...a) => sdkDiag.push(`warn: ${a.join(' ')}`),
  info: () => {},
  debug: () => {},
  verbose: () => {},
}, DiagLogLevel.WARN);

// ---------- the run: start Vigil, emit over each transport, stop Vigil, read its output ----------

const run = randomUUID();
const vigil = new Vigil(binary, { grpc: transports.includes('grpc') });
const emitted = {};  // transport -> {sinks} or {error}
let setupError = null;
let vigilExit = null;
let lines = [];
let failures = 0;

process.on('exit', () => {
  if (vigil.proc && !vigil.exit) vigil.proc.kill('SIGKILL');  // last resort; normally stopped below
});

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: not done within ${ms} ms`), { timedOut: true })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

before(async () => {
  const t0 = Date.now();
  const phase = (what) => console.log(`# ${what} (${Date.now() - t0} ms)`);
  try {
    await vigil.start(START_TIMEOUT_MS);
    phase(`vigil ready (pid ${vigil.proc.pid}, http ${vigil.httpPort}, grpc ${vigil.grpcPort || 'off'})`);
    let hung = null;  // a transport whose SDK did not shut down in time still owns the globals
    for (const t of transports) {
      if (hung) {
        emitted[t] = { error: new Error(`not run: the SDK over ${hung} did not shut down in time`) };
        continue;
      }
      try {
        emitted[t] = { sinks: await withTimeout(emitOver(t, vigil, run), EMIT_TIMEOUT_MS, `SDK over ${t}`) };
      } catch (err) {
        emitted[t] = { error: err };
        if (err.timedOut) hung = t;
      }
      phase(`SDK over ${t} done`);
    }
    // SIGTERM drains Vigil's pipelines into the file exporter, which writes and closes the file.
    vigilExit = await vigil.stop(STOP_TIMEOUT_MS);
    phase('vigil stopped');
    lines = vigil.readOutput();
  } catch (err) {
    setupError = err;
  }
}, { timeout: START_TIMEOUT_MS + EMIT_TIMEOUT_MS * ALL_TRANSPORTS.length + STOP_TIMEOUT_MS + 5000 });

after(async () => {
  if (vigil.proc && !vigil.exit) {
    try {
      await vigil.stop(STOP_TIMEOUT_MS);
    } catch (err) {
      console.error(String(err));
    }
  }
  if (failures > 0 || setupError) {
    console.error(`\n---- vigil config and output kept in ${vigil.dir} ----`);
    if (fs.existsSync(vigil.configFile)) console.error(fs.readFileSync(vigil.configFile, 'utf8'));
    console.error(`---- vigil output (stdout+stderr), exit ${JSON.stringify(vigil.exit)} ----\n${vigil.output}`);
    console.error(`---- SDK diagnostics ----\n${sdkDiag.join('\n')}`);
  } else {
    vigil.removeDir();
  }
});

// A test whose failure is counted (so the report above is printed) and that fails first on a
// setup error.
function check(name, fn) {
  test(name, async () => {
    try {
      if (setupError) throw setupError;
      await fn();
    } catch (err) {
      failures++;
      throw err;
    }
  });
}

// ---------- checks ----------

check('vigil stops with exit code 0 on SIGTERM', () => {
  assert.deepEqual(vigilExit, { code: 0, signal: null });
});

check('the file exporter output holds only OTLP export requests', () => {
  assert.ok(lines.length > 0, 'no output at all');
  for (const line of lines) {
    const keys = Object.keys(line);
    assert.ok(keys.length === 1 && ['resourceSpans', 'resourceLogs', 'resourceMetrics'].includes(keys[0]),
      `unexpected line keys ${JSON.stringify(keys)}`);
  }
});

// What the SDK must have exported for the comparison to mean something (so that an SDK that
// silently dropped data cannot make the test pass with less).
function sdkExportedEverything(signal, records, results) {
  if (signal !== 'metrics') assert.ok(results.length >= 2, `the SDK sent the ${signal} in ${results.length} request(s), expected several`);
  if (signal === 'traces') {
    assert.equal(records.length, 5 + BULK, 'spans exported by the SDK');
    assert.deepEqual([...new Set(records.map((r) => r.span.kind))].sort(), [1, 2, 3, 4, 5], 'span kinds');
    const root = records.find((r) => r.span.name === 'GET /checkout');
    assert.equal(root.span.attributes.length, 22, 'root span attributes kept by the SDK');
    assert.ok(records.some((r) => r.span.status.code === 2 && r.span.status.message !== ''), 'an ERROR status');
    assert.ok(records.some((r) => r.span.traceState !== '' && r.span.links.length > 0), 'trace state and links');
  } else if (signal === 'logs') {
    assert.equal(records.length, 8 + BULK, 'log records exported by the SDK');
    assert.ok(records.some((r) => r.logRecord.traceId !== ''), 'a log record in span context');
    assert.ok(records.some((r) => r.logRecord.body.kvlist), 'a structured body');
    assert.ok(records.some((r) => r.logRecord.body.bytes), 'a bytes body');
  } else {
    const names = new Set(records.map((r) => `${r.metric.name}:${r.metric.type}`));
    assert.deepEqual([...names].sort(), [
      'interop.bytes:sum', 'interop.cpu.time:sum', 'interop.exp.latency:exponentialHistogram',
      'interop.latency:histogram', 'interop.open.files:sum', 'interop.queue.depth:sum',
      'interop.requests:sum', 'interop.size:histogram', 'interop.temperature:gauge', 'interop.threads:gauge',
    ], 'metrics exported by the SDK');
  }
}

const SIGNALS = {
  traces: {
    fromFile: fileSpans,
    key: (r) => r.span.spanId,
    label: (r) => `span "${r.span.name}" (${r.span.spanId})`,
    item: 'span',
  },
  logs: {
    fromFile: fileLogRecords,
    key: (r) => JSON.stringify(r.logRecord.attributes.find(([k]) => k === 'interop.seq')?.[1]),
    label: (r) => `log record ${JSON.stringify(r.logRecord.attributes.find(([k]) => k === 'interop.seq')?.[1])}`,
    item: 'logRecord',
  },
  metrics: {
    fromFile: fileMetricPoints,
    key: (r) => JSON.stringify([r.metric.name, r.point.attributes, r.point.timeUnixNano]),
    label: (r) => `metric "${r.metric.name}" point ${JSON.stringify(r.point.attributes)}`,
    item: 'point',
  },
};

for (const transport of transports) {
  describe(`over ${transport}`, () => {
    for (const [signal, s] of Object.entries(SIGNALS)) {
      check(`${signal}: what the SDK exported is what Vigil wrote`, () => {
        const e = emitted[transport];
        if (e?.error) throw e.error;
        const sink = e.sinks[signal];
        sdkExportedEverything(signal, sink.records, sink.results);
        const failed = sink.results.filter((r) => r.code !== SUCCESS);
        assert.equal(sink.results.length > 0 && failed.length === 0, true,
          `the SDK's ${transport} exporter reported ${failed.length} failed export(s) of ` +
          `${sink.results.length}:\n${failed.map((r) => r.error).join('\n')}`);

        const expected = sink.records;
        const actual = s.fromFile(lines).filter((r) => resourceString(r.resource, 'interop.transport') === transport);
        const byKey = new Map();
        for (const r of actual) {
          const k = s.key(r);
          assert.ok(!byKey.has(k), `Vigil wrote ${s.label(r)} more than once`);
          byKey.set(k, r);
        }
        for (const want of expected) {
          const got = byKey.get(s.key(want));
          assert.ok(got, `${s.label(want)} is missing from Vigil's output ` +
            `(${actual.length} ${signal} items of this transport there, ${expected.length} expected)`);
          assert.deepStrictEqual(got.resource, want.resource, `${s.label(want)}: resource`);
          assert.deepStrictEqual(got.scope, want.scope, `${s.label(want)}: instrumentation scope`);
          if (signal === 'metrics') assert.deepStrictEqual(got.metric, want.metric, `${s.label(want)}: metric`);
          assert.deepStrictEqual(got[s.item], want[s.item], `${s.label(want)}: ${s.item}`);
        }
        assert.equal(actual.length, expected.length, `Vigil wrote ${actual.length} ${signal} items for ${transport}, the SDK exported ${expected.length}`);
      });
    }
  });
}
