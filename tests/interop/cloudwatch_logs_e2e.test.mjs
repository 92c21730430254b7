// End to end: the real `vigil` binary with filelog → batch → awscloudwatchlogs → the CloudWatch
// Logs stand-in (lib/cloudwatch_standin.mjs, which verifies every signature and enforces every
// PutLogEvents limit). 100,000 lines must arrive complete, each exactly once, in requests within
// the limits and sorted; a throttling burst in the middle delays but loses nothing; the log group
// is created on first use (ResourceNotFoundException) with its retention and tags, and the stream
// with it. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
//
// Run by ctest (label `interop`) with VIGIL_BINARY set; `npm ci` in tests/interop first.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startStandIn } from './lib/cloudwatch_standin.mjs';
import { awsEnvironment, eventually, harnessYaml, requiredFile, Vigil } from './lib/vigil.mjs';

const binary = requiredFile('VIGIL_BINARY', 'the built vigil binary');

const LINES = 100000;
const THROTTLED = 12;
const credentials = { accessKeyId: 'AKIDE2ETEST', secretAccessKey: 'e2e/secret+key' };
const region = 'ap-southeast-2';
const group = '/aws/vigil/e2e-svc';
const stream = 'e2e-stream';

let cw;
const vigil = new Vigil(binary, {
  config,
  env: (dir) => awsEnvironment(credentials, dir),
  prefix: 'vigil-cwlogs-',
});
const logFile = path.join(vigil.dir, 'app.log');

// Line i: unique, most short, every 97th about 30 KB so the byte limit splits requests too.
function line(i) {
  const pad = i % 97 === 0 ? 'x'.repeat(30000) : 'y'.repeat(i % 50);
  return `line-${i} ✓ ${pad}`;
}

function config(v) {
  return `
receivers:
  filelog:
    include: [${logFile}]
    start_at: beginning
    poll_interval: 50ms
    max_log_size: 1MiB
    resource:
      service.name: e2e-svc
processors:
  batch:
    timeout: 100ms
    send_batch_size: 8192
    send_batch_max_size: 20000
exporters:
  awscloudwatchlogs:
    region: ${region}
    endpoint: ${cw.url}
    log_group_name: "/aws/vigil/{service.name}"
    log_stream_name: ${stream}
    log_retention: 14
    tags: {team: observability, env: e2e}
    raw_log: true
    sending_queue:
      num_consumers: 4
      queue_size: 1000
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 200ms
      max_elapsed_time: 60s
${harnessYaml(v)}
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [awscloudwatchlogs]
`;
}

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

test('100,000 lines through filelog → awscloudwatchlogs arrive complete, within limits, despite throttling',
  { timeout: 120000 }, async (t) => {
    try {
      const half = LINES / 2;
      const write = (from, to) => {
        const parts = [];
        for (let i = from; i < to; i++) parts.push(line(i));
        fs.appendFileSync(logFile, parts.join('\n') + '\n');
      };
      write(0, half);
      // Some events arrived: the group and stream exist now. Then a burst of throttling.
      await eventually('first events at the stand-in', 30000, () => cw.events(group, stream).length > 0);
      cw.throttleNext(THROTTLED);
      write(half, LINES);
      await eventually(`${LINES} events at the stand-in`, 60000, () => cw.events(group, stream).length >= LINES,
        () => vigil.exitReason());
      // Anything late would be a duplicate: give it a moment to show up.
      await new Promise((r) => setTimeout(r, 500));

      const events = cw.events(group, stream);
      const seen = new Map();
      for (const e of events) seen.set(e.message, (seen.get(e.message) ?? 0) + 1);
      const dups = [...seen.entries()].filter(([, n]) => n > 1);
      assert.equal(dups.length, 0, `duplicated: ${dups.slice(0, 3).map(([m, n]) => `${m.slice(0, 20)} ×${n}`)}`);
      for (let i = 0; i < LINES; i++) {
        if (!seen.has(line(i))) assert.fail(`line ${i} is missing`);
      }
      assert.equal(events.length, LINES);

      // Every request within the limits and sorted (the stand-in refuses any other and records it).
      assert.deepEqual(cw.violations(), []);
      const batches = cw.putBatches().filter((b) => b.group === group);
      for (const b of batches) {
        assert.ok(b.count <= 10000, `a request of ${b.count} events`);
        assert.ok(b.bytes <= 1048576, `a request of ${b.bytes} bytes`);
        for (let i = 1; i < b.events.length; i++) assert.ok(b.events[i - 1].timestamp <= b.events[i].timestamp);
        assert.equal(b.rejected, undefined);
      }
      assert.ok(batches.some((b) => b.bytes > 1048576 - 40000), 'some request was filled up to the byte limit');
      const reqs = cw.requests();
      assert.ok(reqs.every((r) => r.signatureOk), 'every request carried a valid signature');

      // The throttling burst happened and was retried.
      const throttled = reqs.filter((r) => r.errorType === 'ThrottlingException').length;
      assert.equal(throttled, THROTTLED);

      // Created on first use: ResourceNotFound, then the stream (not found), the group with tags
      // and retention, the stream.
      const ops = reqs.map((r) => `${r.operation}:${r.errorType ?? r.status}`);
      assert.equal(ops[0], 'PutLogEvents:ResourceNotFoundException');
      assert.ok(ops.includes('CreateLogGroup:200') && ops.includes('PutRetentionPolicy:200') &&
        ops.includes('CreateLogStream:200'), ops.slice(0, 8).join(', '));
      assert.equal(reqs.filter((r) => r.operation === 'CreateLogGroup' && r.status === 200).length, 1);
      const g = cw.group(group);
      assert.equal(g.retentionInDays, 14);
      assert.deepEqual(g.tags, { team: 'observability', env: 'e2e' });
      assert.deepEqual(g.streams, [stream]);

      // Vigil's own count agrees, and nothing was dropped.
      assert.equal(await vigil.selfMetric('vigil_cloudwatchlogs_events_sent_total'), LINES);
      assert.equal(await vigil.selfMetric('vigil_cloudwatchlogs_events_dropped_total'), 0);
      assert.ok(await vigil.selfMetric('vigil_cloudwatchlogs_requests_total', 'outcome="throttled"') >= THROTTLED);
    } catch (e) {
      t.diagnostic(`vigil output (tail):\n${vigil.output.slice(-4000)}`);
      throw e;
    }
  });
