// End to end: the real `vigil` binary with filelog (the shop's JSON log lines) → kpi connector
// (packs: [default]) → metrics pipeline → awsemf → the CloudWatch Logs stand-in
// (lib/cloudwatch_standin.mjs, which verifies every signature and enforces every PutLogEvents
// limit). Every event the stand-in accepts is checked against every structural rule of the
// Embedded Metric Format specification, and the KPI counters' deltas must add up to the counts of
// the traffic written (the histogram's Count to the jobs started).
//
// The first point of each cumulative series is the baseline (the Collector's rule, and awsemf's
// default), so the test first writes one line of each kind, waits until every series has been
// sent and has stopped moving, and then counts only what the deltas after that point say.
//
// Run by ctest (label `interop`) with VIGIL_BINARY set; `npm ci` in tests/interop first.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { startStandIn } from './lib/cloudwatch_standin.mjs';
import { awsEnvironment, eventually, harnessYaml, requiredFile, Vigil } from './lib/vigil.mjs';

const binary = requiredFile('VIGIL_BINARY', 'the built vigil binary');

const credentials = { accessKeyId: 'AKIDEMFTEST', secretAccessKey: 'emf/secret+key' };
const region = 'eu-central-1';
const service = 'shop-emf';
const group = `/metrics/${service}`;
const stream = 'kpi';
const KPI_INTERVAL_MS = 400;

let cw;
const vigil = new Vigil(binary, {
  config,
  env: (dir) => awsEnvironment(credentials, dir),
  prefix: 'vigil-emf-',
});
const logFile = path.join(vigil.dir, 'shop.log');

function config(v) {
  return `
receivers:
  filelog:
    include: [${logFile}]
    start_at: beginning
    poll_interval: 50ms
    resource:
      service.name: ${service}
    operators:
      - type: json_parser
        timestamp: {parse_from: attributes.time, layout_type: gotime, layout: "2006-01-02T15:04:05.999999999Z07:00"}
processors:
  batch:
    timeout: 100ms
connectors:
  kpi:
    interval: ${KPI_INTERVAL_MS}ms
    packs: [default]
exporters:
  awsemf:
    region: ${region}
    endpoint: ${cw.url}
    log_group_name: "/metrics/{service.name}"
    log_stream_name: ${stream}
    sending_queue:
      num_consumers: 4
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 200ms
${harnessYaml(v)}
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [kpi]
    metrics:
      receivers: [kpi]
      processors: [batch]
      exporters: [awsemf]
`;
}

// ---- traffic -----------------------------------------------------------------------------------

const iso = (ms) => new Date(ms).toISOString();

function line(kind, fields) {
  return JSON.stringify({ time: iso(Date.now()), level: 'info', event: kind, ...fields });
}

// [kind, fields, times]: each label combination the test uses.
const KINDS = [
  ['order.created', { payment_method: 'card', region: 'eu' }, 37],
  ['order.created', { payment_method: 'paypal', region: 'us' }, 23],
  ['order.failed', { payment_method: 'card', region: 'eu' }, 5],
  ['webhook.delivered', { provider: 'stripe' }, 11],
  ['webhook.failed', { provider: 'stripe', status: 503 }, 4],
  ['webhook.failed', { provider: 'github', status: 404 }, 3],
  ['job.completed', { queue: 'mail' }, 17],
  ['job.failed', { queue: 'mail' }, 2],
  ['job.started', { queue: 'mail' }, 9],
];

// What the default pack counts for one event: [metric, labels] pairs (counters only).
function counted(kind, f) {
  switch (kind) {
    case 'order.created': return [['orders_created_total', { payment_method: f.payment_method, region: f.region }]];
    case 'order.failed': return [['orders_failed_total', { payment_method: f.payment_method, region: f.region }]];
    case 'webhook.delivered': return [['webhook_deliveries_total', { provider: f.provider, outcome: 'delivered' }]];
    case 'webhook.failed': return [
      ['webhook_deliveries_total', { provider: f.provider, outcome: 'failed' }],
      ['webhook_failures_total', { provider: f.provider, status_class: f.status >= 500 ? '5xx' : '4xx' }],
    ];
    case 'job.completed': return [['queue_jobs_total', { queue: f.queue, outcome: 'completed' }]];
    case 'job.failed': return [['queue_jobs_total', { queue: f.queue, outcome: 'failed' }]];
    default: return [];
  }
}

const seriesKey = (name, labels) =>
  `${name}${JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]))}`;

function writeLines(times) {
  const parts = [];
  for (const [kind, fields, n] of KINDS) {
    for (let i = 0; i < times(n); i++) {
      const extra = kind === 'job.started' ? { enqueued_at: iso(Date.now() - 1500), job_id: `j${i}` } : {};
      parts.push(line(kind, { ...fields, ...extra }));
    }
  }
  fs.appendFileSync(logFile, parts.join('\n') + '\n');
}

// ---- the EMF specification's structural rules ---------------------------------------------------

const UNITS = new Set(['Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes',
  'Terabytes', 'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
  'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
  'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None']);

const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

// Throws with the rule broken. Returns the parsed document.
function checkEmf(event) {
  const where = (msg) => `${msg}: ${event.message.slice(0, 300)}`;
  let doc;
  try {
    doc = JSON.parse(event.message);
  } catch (e) {
    throw new Error(where(`not JSON (${e.message})`));
  }
  assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc), where('the root is not an object'));
  const aws = doc._aws;
  assert.ok(aws && typeof aws === 'object' && !Array.isArray(aws), where('no _aws object'));
  assert.ok(Number.isInteger(aws.Timestamp) && aws.Timestamp > 0, where('_aws.Timestamp is not an integer'));
  // Milliseconds (not seconds or nanoseconds): within a day of now, and the event's own time.
  assert.ok(Math.abs(aws.Timestamp - Date.now()) < 86400000, where('_aws.Timestamp is not ms near now'));
  assert.equal(aws.Timestamp, event.timestamp, where('the event timestamp differs from _aws.Timestamp'));
  assert.ok(Array.isArray(aws.CloudWatchMetrics) && aws.CloudWatchMetrics.length >= 1,
    where('_aws.CloudWatchMetrics is not a non-empty array'));
  for (const d of aws.CloudWatchMetrics) {
    assert.ok(d && typeof d === 'object', where('a directive is not an object'));
    assert.ok(typeof d.Namespace === 'string' && d.Namespace.length >= 1 && d.Namespace.length <= 255,
      where('Namespace is not a string of 1-255 characters'));
    assert.ok(!d.Namespace.startsWith(':'), where('Namespace starts with ":"'));
    assert.ok(Array.isArray(d.Dimensions), where('Dimensions is not an array'));
    for (const set of d.Dimensions) {
      assert.ok(Array.isArray(set) && set.length <= 30, where('a dimension set is not an array of at most 30'));
      assert.equal(new Set(set).size, set.length, where('a dimension set repeats a name'));
      for (const name of set) {
        assert.ok(typeof name === 'string' && name.length >= 1, where('a dimension name is not a string'));
        const v = doc[name];
        assert.ok(typeof v === 'string', where(`dimension ${name} has no string root member`));
        assert.ok(v.length >= 1 && [...v].length <= 1024, where(`dimension value of ${name} is not 1-1024 chars`));
      }
    }
    assert.ok(Array.isArray(d.Metrics) && d.Metrics.length >= 1 && d.Metrics.length <= 100,
      where('Metrics is not an array of 1-100'));
    const names = new Set();
    for (const m of d.Metrics) {
      assert.ok(typeof m.Name === 'string' && m.Name.length >= 1 && m.Name.length <= 1024,
        where('a metric Name is not a string of 1-1024'));
      assert.ok(!names.has(m.Name), where(`metric ${m.Name} twice in a directive`));
      names.add(m.Name);
      if (m.Unit !== undefined) assert.ok(UNITS.has(m.Unit), where(`Unit ${m.Unit} is not a CloudWatch unit`));
      if (m.StorageResolution !== undefined) assert.ok([1, 60].includes(m.StorageResolution));
      const v = doc[m.Name];
      if (isNumber(v)) continue;
      if (Array.isArray(v)) {
        assert.ok(v.length >= 1 && v.length <= 100 && v.every(isNumber), where(`${m.Name}: not ≤100 numbers`));
        continue;
      }
      assert.ok(v && typeof v === 'object', where(`metric ${m.Name} has no numeric root member`));
      for (const k of ['Max', 'Min', 'Count', 'Sum']) assert.ok(isNumber(v[k]), where(`${m.Name}.${k}`));
      assert.ok(v.Min <= v.Max && v.Count > 0, where(`${m.Name}: Min ≤ Max, Count > 0`));
      if (v.Values !== undefined) {
        assert.ok(Array.isArray(v.Values) && Array.isArray(v.Counts) && v.Values.length === v.Counts.length &&
          v.Values.length >= 1 && v.Values.length <= 100, where(`${m.Name}: Values/Counts`));
        assert.ok(v.Values.every(isNumber) && v.Counts.every((c) => isNumber(c) && c >= 0), where(`${m.Name}`));
        assert.equal(v.Counts.reduce((a, b) => a + b, 0), v.Count, where(`${m.Name}: Counts add up to Count`));
      }
    }
  }
  return doc;
}

// ---- lifecycle --------------------------------------------------------------------------------------

before(async () => {
  cw = await startStandIn({ region, credentials });
  fs.writeFileSync(logFile, '');
  await vigil.start(30000);
});

after(async () => {
  await vigil.stop(20000).catch((e) => console.error(e.message));
  await cw?.stop();
  vigil.removeDir();
});

// Sums of the counters' values (and the histogram's Count) by series, over documents after `afterTs`.
function totals(afterTs) {
  const sums = new Map();
  for (const e of cw.events(group, stream)) {
    const doc = checkEmf(e);
    if (doc._aws.Timestamp <= afterTs) continue;
    for (const d of doc._aws.CloudWatchMetrics) {
      for (const m of d.Metrics) {
        const v = doc[m.Name];
        const labels = {};
        for (const [k, x] of Object.entries(doc)) {
          if (k !== '_aws' && k !== 'OTelLib' && typeof x === 'string') labels[k] = x;
        }
        const value = typeof v === 'number' ? v : Array.isArray(v) ? v.reduce((a, b) => a + b, 0) : v.Count;
        const key = seriesKey(m.Name, labels);
        sums.set(key, (sums.get(key) ?? 0) + value);
      }
    }
  }
  return sums;
}

test('KPI metrics through awsemf arrive as valid EMF whose deltas add up to the traffic', { timeout: 150000 },
  async (t) => {
    const abort = () => vigil.exitReason();
    try {
      const expected = new Map();
      for (const [kind, fields, n] of KINDS) {
        for (const [name, labels] of counted(kind, fields)) {
          const k = seriesKey(name, labels);
          expected.set(k, (expected.get(k) ?? 0) + n);
        }
      }
      expected.set(seriesKey('queue_lag_seconds', { queue: 'mail' }), 9);

      // Phase 1: one line of each kind; every series is established (its baseline) and then sent.
      writeLines(() => 1);
      await eventually('every series at the stand-in', 60000, () => {
        const seen = totals(0);
        return [...expected.keys()].filter((k) => !k.startsWith('queue_lag')).every((k) => seen.has(k));
      }, abort);
      // Settled: nothing moves for several intervals; what follows the mark is phase 2 only.
      let mark = 0;
      let last = '';
      let stableSince = Date.now();
      await eventually('phase 1 settled', 30000, () => {
        const now = JSON.stringify([...totals(0).entries()].sort());
        if (now !== last) {
          last = now;
          stableSince = Date.now();
        }
        return Date.now() - stableSince > 5 * KPI_INTERVAL_MS;
      }, abort);
      for (const e of cw.events(group, stream)) mark = Math.max(mark, e.timestamp);

      // Phase 2: the counted traffic.
      writeLines((n) => n);
      const matches = () => {
        const got = totals(mark);
        return [...expected.entries()].every(([k, n]) => got.get(k) === n);
      };
      await eventually('the deltas add up to the traffic', 60000, matches, abort);
      await sleep(5 * KPI_INTERVAL_MS);  // later deltas must be zero (nothing counted twice)
      const got = totals(mark);
      for (const [k, n] of expected) assert.equal(got.get(k), n, `series ${k}`);
      for (const [k, n] of got) {
        if (!expected.has(k)) assert.equal(n, 0, `unexpected series ${k}`);
      }

      // Every accepted event, all phases, against the EMF rules (totals() checked them too).
      const events = cw.events(group, stream);
      assert.ok(events.length > 0);
      for (const e of events) {
        const doc = checkEmf(e);
        assert.equal(doc._aws.CloudWatchMetrics[0].Namespace, service);
        const units = doc._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => [m.Name, m.Unit]));
        for (const [name, unit] of units) assert.equal(unit, name === 'queue_lag_seconds' ? 'Seconds' : 'Count');
      }
      // Within the service's limits, signed, and the group was created on first use.
      assert.deepEqual(cw.violations(), []);
      assert.ok(cw.requests().every((r) => r.signatureOk));
      assert.ok(cw.group(group), 'the log group was created');
      assert.equal(await vigil.selfMetric('vigil_awsemf_dropped_points_total'), 0);
      assert.ok(await vigil.selfMetric('vigil_awsemf_baseline_points_total') >= 6);
      assert.equal(await vigil.selfMetric('vigil_awsemf_documents_total'), events.length);
      assert.ok(await vigil.selfMetric('vigil_awsemf_series') > 0);
    } catch (e) {
      t.diagnostic(`vigil output (tail):\n${vigil.output.slice(-4000)}`);
      throw e;
    }
  });
