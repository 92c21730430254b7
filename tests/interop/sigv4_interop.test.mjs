// Interop: Vigil's SigV4 signer (agent/aws/sigv4.cpp, through the vigil_sigv4_sign tool) and
// @smithy/signature-v4 (the AWS JS SDK's signer, with @smithy/hash-node's SHA-256) sign the same
// randomized requests; every signature, and the headers each adds, must be identical.
//
// Requests vary the method, paths with reserved, escaped, dot and empty segments and UTF-8,
// repeated and unsorted query keys (sent encoded in several ways), headers with folded spaces,
// tabs and mixed case (and headers the signers leave out), session tokens, x-amz-content-sha256,
// regions, services, times, and empty, small and large bodies.
//
// Run by ctest (label `interop`) with VIGIL_SIGV4_SIGN set; `npm ci` in tests/interop first.
// SIGV4_INTEROP_SEED (default fixed) and SIGV4_INTEROP_COUNT (default 400) change the run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { interopRequire, requiredFile } from './lib/vigil.mjs';

const signTool = requiredFile('VIGIL_SIGV4_SIGN', 'the built vigil_sigv4_sign tool');
const require = interopRequire('@smithy/signature-v4');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');
const { HttpRequest } = require('@smithy/protocol-http');

const SEED = Number(process.env.SIGV4_INTEROP_SEED ?? 20240611);
const COUNT = Number(process.env.SIGV4_INTEROP_COUNT ?? 400);

// ---------- a seeded PRNG (mulberry32) and helpers ----------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;
const shuffle = (xs) => {
  for (let i = xs.length - 1; i > 0; --i) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};

const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~';
const SUB_DELIMS = "!$&'()*+,;=";
const PATH_EXTRA = ":@ %";
const UNICODE = ['é', 'ß', 'ሴ', '中文', '😀'];

function randomText(alphabet, min, max, unicode = true) {
  let s = '';
  const n = int(min, max);
  for (let i = 0; i < n; ++i) s += unicode && chance(0.05) ? pick(UNICODE) : alphabet[int(0, alphabet.length - 1)];
  return s;
}

// A path as it goes on the wire: segments of unreserved, reserved and already-escaped
// characters, "." and "..", empty segments (double slashes), a trailing slash or not.
function randomPath() {
  const segments = [];
  const n = int(0, 5);
  for (let i = 0; i < n; ++i) {
    const kind = int(0, 9);
    if (kind === 0) segments.push('.');
    else if (kind === 1) segments.push('..');
    else if (kind === 2) segments.push('');
    else if (kind === 3) segments.push(encodeURIComponent(randomText(UNRESERVED + SUB_DELIMS + ' ', 1, 8)));
    else segments.push(randomText(UNRESERVED + SUB_DELIMS + PATH_EXTRA, 1, 12));
  }
  let p = '/' + segments.join('/');
  if (segments.length > 0 && chance(0.3)) p += '/';
  return p;
}

// Query parameters as decoded pairs (repeated keys, empty values, reserved characters), and the
// wire form of each, encoded one of several legal ways.
function randomQuery() {
  const keys = [];
  const nk = int(0, 5);
  for (let i = 0; i < nk; ++i) keys.push(randomText(UNRESERVED + SUB_DELIMS + ' /?:@%', 0, 8));
  const pairs = [];
  for (const key of keys) {
    if (key.toLowerCase() === 'x-amz-signature') continue;
    const repeats = chance(0.3) ? int(2, 4) : 1;
    for (let r = 0; r < repeats; ++r) {
      pairs.push([key, chance(0.2) ? '' : randomText(UNRESERVED + SUB_DELIMS + ' /?:@%', 0, 10)]);
    }
  }
  shuffle(pairs);
  // Characters that must be escaped in a query component: the separators, "%", "#", "+" (which
  // some servers read as a space) and what is not ASCII.
  const lightEncode = (s) => s.replace(/[^A-Za-z0-9\-_.~!$'()*,;:@/? ]/gu, (c) => encodeURIComponent(c));
  const upperLower = (s) => s.replace(/%[0-9A-F]{2}/g, (m) => (chance(0.5) ? m.toLowerCase() : m));
  const encodeOne = (s) => {
    const how = int(0, 2);
    if (how === 0) return encodeURIComponent(s);
    if (how === 1) return upperLower(encodeURIComponent(s));
    return lightEncode(s).replace(/ /g, chance(0.5) ? '%20' : ' ');
  };
  const wire = pairs
    .map(([k, v]) => (v === '' && k !== '' && chance(0.5) ? encodeOne(k) : `${encodeOne(k)}=${encodeOne(v)}`))
    .join('&');
  return { pairs, wire };
}

const HEADER_NAMES = [
  'Content-Type', 'content-encoding', 'X-Amz-Target', 'x-aws-log-group', 'X-Aws-Log-Stream', 'x-custom-A',
  'X-Custom-b', 'accept', 'Content-Length', 'x-amz-meta-Thing', 'User-Agent', 'connection', 'X-Amzn-Trace-Id',
  'proxy-authorization', 'Sec-Fetch-Site', 'Date', 'expect', 'x-amz-content-sha256', 'Authorization', 'x-amz-date',
];

function randomHeaderValue() {
  const word = () => randomText('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.,;:=/+"()', 1, 10, false);
  const space = () => pick([' ', '  ', '\t', ' \t ', '   ']);
  let v = chance(0.3) ? space() : '';
  const n = int(0, 4);
  for (let i = 0; i < n; ++i) {
    if (i > 0) v += space();
    v += word();
  }
  if (chance(0.3)) v += space();
  return v;
}

function randomBody() {
  const kind = int(0, 9);
  if (kind <= 1) return undefined;
  if (kind === 2) return '';
  if (kind === 3) return randomText(UNRESERVED + ' \n"{}[]', 200_000, 1_500_000);  // large
  return randomText(UNRESERVED + SUB_DELIMS + ' \n\t"{}[]', 1, 2000);
}

function randomRequest(i) {
  const host = pick(['logs.us-east-1.amazonaws.com', 'xray.eu-west-3.amazonaws.com', 'example.com',
    '127.0.0.1:4318', 'monitoring.ap-southeast-2.amazonaws.com']);
  const reqPath = randomPath();
  const query = randomQuery();
  const headers = [];
  const used = new Set();
  const nh = int(0, 7);
  for (let h = 0; h < nh; ++h) {
    const name = pick(HEADER_NAMES);
    // smithy keeps headers in an object: one value per name, case-insensitively.
    if (used.has(name.toLowerCase())) continue;
    used.add(name.toLowerCase());
    const value = name.toLowerCase() === 'x-amz-content-sha256' ? pick(['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']) : randomHeaderValue();
    headers.push([name, value]);
  }
  // smithy signs the headers it is given: the SDK's middleware sets Host; Vigil adds it from
  // the URL when absent. Both ways are exercised.
  const explicitHost = chance(0.3);
  if (explicitHost) headers.push([pick(['Host', 'host']), host]);
  return {
    index: i,
    method: pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']),
    host,
    path: reqPath,
    query,
    headers,
    explicitHost,
    body: randomBody(),
    region: pick(['us-east-1', 'eu-west-3', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1']),
    service: pick(['logs', 'xray', 'monitoring', 'sts', 'execute-api', 'service']),
    timeMs: int(946684800000, 1893456000000),  // 2000 to 2030, with milliseconds
    accessKeyId: 'AKIA' + randomText('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 16, false),
    secretAccessKey: randomText(UNRESERVED + '/+', 40, 40, false),
    sessionToken: chance(0.4) ? randomText(UNRESERVED + '/+=', 100, 400, false) : '',
    addContentSha256: chance(0.3),
    uriEscapePath: chance(0.9),
  };
}

// ---------- both signers ----------

class CapturingSigner extends SignatureV4 {
  createCanonicalRequest(request, canonicalHeaders, payloadHash) {
    this.lastCanonicalRequest = super.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    return this.lastCanonicalRequest;
  }
}

async function smithySign(r) {
  const signer = new CapturingSigner({
    credentials: {
      accessKeyId: r.accessKeyId,
      secretAccessKey: r.secretAccessKey,
      ...(r.sessionToken ? { sessionToken: r.sessionToken } : {}),
    },
    region: r.region,
    service: r.service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: r.uriEscapePath,
    applyChecksum: r.addContentSha256,
  });
  const query = {};
  for (const [k, v] of r.query.pairs) {
    if (!(k in query)) query[k] = v;
    else if (Array.isArray(query[k])) query[k].push(v);
    else query[k] = [query[k], v];
  }
  const headers = {};
  for (const [n, v] of r.headers) headers[n] = v;
  if (!r.explicitHost) headers.host = r.host;
  const [hostname, port] = r.host.split(':');
  const request = new HttpRequest({
    method: r.method,
    protocol: 'https:',
    hostname,
    port: port ? Number(port) : undefined,
    path: r.path,
    query,
    headers,
    body: r.body,
  });
  const signed = await signer.sign(request, { signingDate: new Date(r.timeMs) });
  return { signed, canonicalRequest: signer.lastCanonicalRequest };
}

function vigilInput(r) {
  return {
    method: r.method,
    url: `https://${r.host}${r.path}${r.query.wire === '' && chance(0.5) ? '' : '?' + r.query.wire}`,
    headers: r.headers,
    body: r.body ?? '',
    region: r.region,
    service: r.service,
    time_ms: r.timeMs,
    access_key_id: r.accessKeyId,
    secret_access_key: r.secretAccessKey,
    session_token: r.sessionToken,
    add_content_sha256: r.addContentSha256,
    uri_escape_path: r.uriEscapePath,
  };
}

function describe(r, input) {
  const shown = { ...input };
  if (typeof shown.body === 'string' && shown.body.length > 200) {
    shown.body = `${shown.body.slice(0, 200)}… (${shown.body.length} characters)`;
  }
  shown.query_pairs = r.query.pairs;
  return JSON.stringify(shown, null, 2);
}

test(`SigV4: Vigil and @smithy/signature-v4 sign ${COUNT} random requests alike (seed ${SEED})`, async () => {
  const requests = Array.from({ length: COUNT }, (_, i) => randomRequest(i));
  const inputs = requests.map(vigilInput);
  const run = spawnSync(signTool, [], {
    input: inputs.map((x) => JSON.stringify(x)).join('\n') + '\n',
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, `vigil_sigv4_sign failed (${run.status}, ${run.signal}): ${run.stderr}`);
  const outputs = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(outputs.length, requests.length, 'one answer per request');

  let mismatches = 0;
  let large = 0;
  let withQuery = 0;
  let repeated = 0;
  for (let i = 0; i < requests.length; ++i) {
    const r = requests[i];
    const ours = outputs[i];
    assert.ok(!ours.error, `request ${i}: ${ours.error}`);
    const { signed, canonicalRequest } = await smithySign(r);
    if (r.body && r.body.length > 100_000) ++large;
    if (r.query.pairs.length > 0) ++withQuery;
    if (new Set(r.query.pairs.map(([k]) => k)).size < r.query.pairs.length) ++repeated;

    const theirs = {};
    for (const [n, v] of Object.entries(signed.headers)) theirs[n.toLowerCase()] = v;
    const problems = [];
    if (canonicalRequest !== ours.canonical_request) problems.push('canonical requests differ');
    for (const [n, v] of ours.headers) {
      if (theirs[n] !== v) problems.push(`header ${n}: vigil ${JSON.stringify(v)}, smithy ${JSON.stringify(theirs[n])}`);
    }
    for (const n of ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'host']) {
      if (theirs[n] !== undefined && !ours.headers.some(([m]) => m === n) &&
          !r.headers.some(([m, v]) => m.toLowerCase() === n && v === theirs[n])) {
        problems.push(`smithy sets ${n} and vigil does not`);
      }
    }
    if (problems.length > 0) {
      ++mismatches;
      if (mismatches <= 5) {
        console.log(`\n=== MISMATCH on request ${i} (seed ${SEED}): ${problems.join('; ')}\n` +
          `request: ${describe(r, inputs[i])}\n--- vigil canonical request:\n${ours.canonical_request}\n` +
          `--- smithy canonical request:\n${canonicalRequest}\n`);
      }
    }
  }
  console.log(`${requests.length} requests (${withQuery} with a query, ${repeated} with repeated keys, ` +
    `${large} bodies over 100 kB), ${mismatches} mismatches`);
  assert.equal(mismatches, 0, `${mismatches} of ${requests.length} signatures differ (seed ${SEED})`);
  // The generator really produced the hard cases.
  assert.ok(large > 0 && withQuery > 0 && repeated > 0);
});
