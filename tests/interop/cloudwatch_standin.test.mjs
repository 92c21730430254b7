// The CloudWatch Logs stand-in (lib/cloudwatch_standin.mjs) against the real AWS SDK for
// JavaScript: if the SDK's client, with its own signer and its own error parsing, gets the answers
// it would get from CloudWatch Logs, the stand-in speaks the real protocol, and the tests of
// Vigil's client that use it mean something.
//
// Run by ctest (label `interop`); `npm ci` in tests/interop first.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';

import { startStandIn } from './lib/cloudwatch_standin.mjs';

const credentials = { accessKeyId: 'AKIDSTANDINTEST', secretAccessKey: 'standin/secret+key' };
const region = 'eu-west-3';
let cw;
let client;

function sdkClient(creds = credentials, reg = region) {
  return new CloudWatchLogsClient({ region: reg, endpoint: cw.url, credentials: creds, maxAttempts: 1 });
}

async function rejects(promise, type, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, type, `expected ${type}, got ${err.name}: ${err.message}`);
    if (status) assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}

describe('CloudWatch Logs stand-in with the AWS SDK client', () => {
  before(async () => {
    cw = await startStandIn({ region, credentials });
    client = sdkClient();
  });
  after(async () => {
    client?.destroy();
    await cw?.stop();
  });

  test('create group with tags and retention, create stream, put events', async () => {
    await client.send(new CreateLogGroupCommand({ logGroupName: '/sdk/group', tags: { team: 'obs', env: 'test' } }));
    await client.send(new PutRetentionPolicyCommand({ logGroupName: '/sdk/group', retentionInDays: 7 }));
    await client.send(new CreateLogStreamCommand({ logGroupName: '/sdk/group', logStreamName: 'one' }));
    const t = Date.now();
    const out = await client.send(new PutLogEventsCommand({
      logGroupName: '/sdk/group', logStreamName: 'one',
      logEvents: [{ timestamp: t - 2, message: 'first' }, { timestamp: t - 1, message: 'zweite ünïcödé ✓' }],
    }));
    assert.equal(out.rejectedLogEventsInfo, undefined);
    assert.deepEqual(cw.events('/sdk/group', 'one').map((e) => e.message), ['first', 'zweite ünïcödé ✓']);
    const g = cw.group('/sdk/group');
    assert.equal(g.retentionInDays, 7);
    assert.deepEqual(g.tags, { team: 'obs', env: 'test' });
    assert.ok(cw.requests().every((r) => r.signatureOk), 'every SDK request passed signature verification');
  });

  test('ResourceAlreadyExistsException for an existing group and stream', async () => {
    await rejects(client.send(new CreateLogGroupCommand({ logGroupName: '/sdk/group' })),
      'ResourceAlreadyExistsException', 400);
    await rejects(client.send(new CreateLogStreamCommand({ logGroupName: '/sdk/group', logStreamName: 'one' })),
      'ResourceAlreadyExistsException', 400);
  });

  test('ResourceNotFoundException for an unknown group or stream', async () => {
    const logEvents = [{ timestamp: Date.now(), message: 'x' }];
    await rejects(client.send(new PutLogEventsCommand({ logGroupName: '/nope', logStreamName: 's', logEvents })),
      'ResourceNotFoundException', 400);
    await rejects(client.send(new PutLogEventsCommand({ logGroupName: '/sdk/group', logStreamName: 'nope', logEvents })),
      'ResourceNotFoundException', 400);
    await rejects(client.send(new CreateLogStreamCommand({ logGroupName: '/nope', logStreamName: 's' })),
      'ResourceNotFoundException', 400);
  });

  test('InvalidParameterException for every PutLogEvents limit', async () => {
    const t = Date.now();
    const put = (logEvents) =>
      client.send(new PutLogEventsCommand({ logGroupName: '/sdk/group', logStreamName: 'one', logEvents }));
    // unsorted
    await rejects(put([{ timestamp: t, message: 'b' }, { timestamp: t - 1, message: 'a' }]), 'InvalidParameterException', 400);
    // span over 24 hours
    await rejects(put([{ timestamp: t - 25 * 3600e3, message: 'a' }, { timestamp: t, message: 'b' }]),
      'InvalidParameterException', 400);
    // more than 10,000 events
    await rejects(put(Array.from({ length: 10001 }, () => ({ timestamp: t, message: 'x' }))),
      'InvalidParameterException', 400);
    // 1,048,576 bytes counting 26 per event: 5 events of 209,690 bytes are 1,048,580
    const big = 'y'.repeat(209690);
    await rejects(put(Array.from({ length: 5 }, () => ({ timestamp: t, message: big }))), 'InvalidParameterException', 400);
    // the same total minus one event fits
    await put(Array.from({ length: 4 }, () => ({ timestamp: t, message: big })));
    // one event over the per-event limit (262,144 with its 26 bytes)
    await rejects(put([{ timestamp: t, message: 'z'.repeat(262144 - 26 + 1) }]), 'InvalidParameterException', 400);
    await put([{ timestamp: t, message: 'z'.repeat(262144 - 26) }]);
    // an empty message
    await rejects(put([{ timestamp: t, message: '' }]), 'InvalidParameterException', 400);
    // a retention that is not in the list
    await rejects(client.send(new PutRetentionPolicyCommand({ logGroupName: '/sdk/group', retentionInDays: 2 })),
      'InvalidParameterException', 400);
    // tags: an aws: key
    await rejects(client.send(new CreateLogGroupCommand({ logGroupName: '/sdk/tags', tags: { 'aws:x': 'y' } })),
      'InvalidParameterException', 400);
  });

  test('too old, expired and too new events are rejected in rejectedLogEventsInfo, the rest kept', async () => {
    await client.send(new CreateLogStreamCommand({ logGroupName: '/sdk/group', logStreamName: 'ages' }));
    const t = Date.now();
    const day = 24 * 3600e3;
    // retention 7 days: 8 days old is expired; 15 days old would be too old but cannot share a
    // request (24 h span) with current events, so it goes alone.
    const out1 = await client.send(new PutLogEventsCommand({
      logGroupName: '/sdk/group', logStreamName: 'ages',
      logEvents: [{ timestamp: t - 15 * day, message: 'too old' }, { timestamp: t - 15 * day + 1, message: 'too old 2' }],
    }));
    assert.equal(out1.rejectedLogEventsInfo.tooOldLogEventEndIndex, 2);
    assert.equal(out1.rejectedLogEventsInfo.expiredLogEventEndIndex, 2);
    const out2 = await client.send(new PutLogEventsCommand({
      logGroupName: '/sdk/group', logStreamName: 'ages',
      logEvents: [
        { timestamp: t - 1000, message: 'ok 1' },
        { timestamp: t, message: 'ok 2' },
        { timestamp: t + 3 * 3600e3, message: 'too new' },
      ],
    }));
    assert.equal(out2.rejectedLogEventsInfo.tooNewLogEventStartIndex, 2);
    assert.equal(out2.rejectedLogEventsInfo.tooOldLogEventEndIndex, undefined);
    assert.deepEqual(cw.events('/sdk/group', 'ages').map((e) => e.message), ['ok 1', 'ok 2']);
  });

  test('ThrottlingException and ServiceUnavailableException on demand', async () => {
    const logEvents = [{ timestamp: Date.now(), message: 'later' }];
    const cmd = () => new PutLogEventsCommand({ logGroupName: '/sdk/group', logStreamName: 'one', logEvents });
    cw.throttleNext(1);
    await rejects(client.send(cmd()), 'ThrottlingException', 400);
    cw.failNext(1, 503, 'ServiceUnavailableException');
    await rejects(client.send(cmd()), 'ServiceUnavailableException', 503);
    await client.send(cmd());  // the failures were one-shot
    // The SDK's own retries (standard mode) get through a single throttle.
    const retrying = new CloudWatchLogsClient({ region, endpoint: cw.url, credentials, maxAttempts: 3,
      retryStrategy: undefined });
    cw.throttleNext(1);
    await retrying.send(cmd());
    retrying.destroy();
  });

  test('wrong secret, unknown key, wrong region are refused', async () => {
    const logEvents = [{ timestamp: Date.now(), message: 'x' }];
    const cmd = () => new PutLogEventsCommand({ logGroupName: '/sdk/group', logStreamName: 'one', logEvents });
    const wrongSecret = sdkClient({ ...credentials, secretAccessKey: 'not-the-secret' });
    await rejects(wrongSecret.send(cmd()), 'InvalidSignatureException', 403);
    wrongSecret.destroy();
    const unknownKey = sdkClient({ ...credentials, accessKeyId: 'AKIDUNKNOWN' });
    await rejects(unknownKey.send(cmd()), 'UnrecognizedClientException', 400);
    unknownKey.destroy();
    const otherRegion = sdkClient(credentials, 'us-west-2');
    await rejects(otherRegion.send(cmd()), 'InvalidSignatureException', 400);
    otherRegion.destroy();
  });
});
