// Interop: the real `vigil` binary exports logs and traces with `otlphttp` and
// `auth: {authenticator: sigv4auth}` (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN) to a local HTTP server that checks every request the way AWS does, with
// @smithy/signature-v4 (the AWS JS SDK's signer): it re-signs the request as received (method,
// path, query, the signed headers, the gzip body) with the same secret and date, and rejects it
// with 403 when the signatures differ.
//
// Run by ctest (label `interop`) with VIGIL_BINARY set; `npm ci` in tests/interop first.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { awsEnvironment, eventually, harnessYaml, interopRequire, requiredFile, Vigil } from './lib/vigil.mjs';

const binary = requiredFile('VIGIL_BINARY', 'the built vigil binary');
const require = interopRequire('@smithy/signature-v4');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');
const { HttpRequest } = require('@smithy/protocol-http');

const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//session+token=',
};
const REGION = 'us-west-2';
const SERVICE = 'xray';
const LOG_REQUESTS = 20;
const SPAN_REQUESTS = 20;

// ---------- the verifying server ----------

const seen = { verified: [], rejected: [] };

function field(authorization, name) {
  const m = new RegExp(`${name}=([^,]*)`).exec(authorization);
  return m ? m[1].trim() : '';
}

async function verify(req, body) {
  const authorization = req.headers.authorization ?? '';
  if (!authorization.startsWith('AWS4-HMAC-SHA256 ')) return 'no SigV4 Authorization header';
  const [accessKeyId, date, region, service, terminator] = field(authorization, 'Credential').split('/');
  if (accessKeyId !== CREDENTIALS.accessKeyId) return `access key ${accessKeyId}`;
  if (region !== REGION || service !== SERVICE || terminator !== 'aws4_request') return `scope ${region}/${service}`;
  const amzDate = req.headers['x-amz-date'] ?? '';
  if (!amzDate.startsWith(date)) return `x-amz-date ${amzDate} outside the scope's day ${date}`;
  const signedHeaders = field(authorization, 'SignedHeaders').split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-security-token', 'content-type']) {
    if (!signedHeaders.includes(required)) return `${required} is not signed`;
  }
  const headers = {};
  for (const name of signedHeaders) {
    if (req.headers[name] === undefined) return `signed header ${name} missing`;
    headers[name] = req.headers[name];
  }
  const url = new URL(req.url, 'http://placeholder');
  const query = {};
  for (const [k, v] of url.searchParams) {
    if (!(k in query)) query[k] = v;
    else query[k] = [].concat(query[k], v);
  }
  const signer = new SignatureV4({
    credentials: CREDENTIALS,
    region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: false,
  });
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return `bad x-amz-date ${amzDate}`;
  const signingDate = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  const signed = await signer.sign(
    new HttpRequest({ method: req.method, protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query, headers, body }),
    { signingDate },
  );
  if (signed.headers.authorization !== authorization) {
    return `signature differs:\n  received ${authorization}\n  expected ${signed.headers.authorization}`;
  }
  return null;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    let problem;
    try {
      problem = await verify(req, new Uint8Array(body));
    } catch (e) {
      problem = `verifier error: ${e.stack}`;
    }
    const record = { method: req.method, url: req.url, encoding: req.headers['content-encoding'], bytes: body.length };
    if (problem) {
      seen.rejected.push({ ...record, problem });
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: problem }));
      return;
    }
    seen.verified.push(record);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});

// ---------- vigil ----------

const vigil = new Vigil(binary, {
  config,
  env: (dir) => awsEnvironment(CREDENTIALS, dir),
  prefix: 'vigil-sigv4-',
});
function config(v) {
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${v.httpPort}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${server.address().port}
    compression: gzip
    headers:
      x-aws-log-group: /aws/vigil/interop
      x-aws-log-stream: "  folded   spaces  "
    retry_on_failure:
      enabled: false
    auth:
      authenticator: sigv4auth
${harnessYaml(v, { extensions: `  sigv4auth:\n    region: ${REGION}\n    service: ${SERVICE}\n`, ids: ['sigv4auth'] })}
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`;
}

before(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  await vigil.start(60000);
});

after(async () => {
  await vigil.stop(20000).catch((e) => console.error(e.message));
  server.close();
  vigil.removeDir();
});

function logsRequest(i) {
  return {
    resourceLogs: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sigv4-interop' } }] },
      scopeLogs: [{
        logRecords: Array.from({ length: 1 + (i % 7) * 50 }, (_, j) => ({
          timeUnixNano: String(BigInt(Date.now()) * 1000000n),
          body: { stringValue: `log ${i}/${j} with reserved characters: ?&=%+/ and é` },
        })),
      }],
    }],
  };
}

function tracesRequest(i) {
  const hex = (n, len) => n.toString(16).padStart(len, '0');
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sigv4-interop' } }] },
      scopeSpans: [{
        spans: Array.from({ length: 1 + (i % 5) * 20 }, (_, j) => ({
          traceId: hex(i + 1, 32), spanId: hex(j + 1, 16), name: `span ${j}`, kind: 2,
          startTimeUnixNano: String(BigInt(Date.now()) * 1000000n),
          endTimeUnixNano: String(BigInt(Date.now()) * 1000000n + 1000n),
        })),
      }],
    }],
  };
}

test('sigv4auth: every request vigil sends verifies with @smithy/signature-v4', async () => {
  for (let i = 0; i < LOG_REQUESTS; ++i) {
    const r = await fetch(`http://127.0.0.1:${vigil.httpPort}/v1/logs`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(logsRequest(i)),
    });
    assert.ok(r.ok, `vigil refused logs request ${i}: ${r.status} ${await r.text()}`);
  }
  for (let i = 0; i < SPAN_REQUESTS; ++i) {
    const r = await fetch(`http://127.0.0.1:${vigil.httpPort}/v1/traces`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tracesRequest(i)),
    });
    assert.ok(r.ok, `vigil refused traces request ${i}: ${r.status} ${await r.text()}`);
  }
  // One request per received one (no batch processor).
  await eventually('every export arrives', 60000, async () =>
    seen.rejected.length > 0 ||
    seen.verified.filter((r) => r.url === '/v1/logs').length >= LOG_REQUESTS &&
    seen.verified.filter((r) => r.url === '/v1/traces').length >= SPAN_REQUESTS);
  assert.deepEqual(seen.rejected, [], `rejected requests:\n${JSON.stringify(seen.rejected, null, 2)}\nvigil:\n${vigil.output}`);
  assert.ok(seen.verified.every((r) => r.method === 'POST' && r.encoding === 'gzip'));
  assert.ok(!vigil.output.includes(CREDENTIALS.secretAccessKey), 'the secret key appears in vigil\'s output');
  assert.ok(!vigil.output.includes(CREDENTIALS.sessionToken), 'the session token appears in vigil\'s output');
  console.log(`${seen.verified.length} signed requests verified`);
});
