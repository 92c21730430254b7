// A CloudWatch Logs stand-in for tests: AWS cannot be reached here, so the awscloudwatchlogs and
// awsemf tests send to this local server instead. It speaks the service's awsJson1_1 protocol
// (POST /, X-Amz-Target: Logs_20140328.<Operation>, application/x-amz-json-1.1, errors as JSON
// bodies {"__type", "message"} with the service's status codes), verifies the SigV4 signature of
// every request by recomputing it with @smithy/signature-v4 (the AWS JS SDK's signer), enforces
// the documented PutLogEvents limits, can throttle and fail on demand, and records what it
// accepted. tests/interop/cloudwatch_standin.test.mjs checks it against the real AWS SDK client.
//
//   import { startStandIn } from './lib/cloudwatch_standin.mjs';
//   const cw = await startStandIn({ region: 'us-east-1',
//                                   credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
//   ... point the client at cw.url ...
//   cw.events('/my/group', 'my-stream');  // [{timestamp, message}] in arrival order
//   await cw.stop();
//
// startStandIn(options) -> Promise<StandIn>. Options (all optional but credentials):
//   region                   'us-east-1'; the signature's scope must name it
//   credentials              {accessKeyId, secretAccessKey, sessionToken?}: the only identity
//                            accepted (a sessionToken, when given, must be sent and signed)
//   host                     '127.0.0.1' (port 0: a free port)
//   now                      () => ms since the epoch: the service's clock (too old/new events)
//   maxEventBytes            262144: message UTF-8 bytes + 26 per event (the limit Vigil keeps;
//                            the service itself has allowed 1 MiB since 2025)
//   maxClockSkewMs           15 minutes: X-Amz-Date further off is "Signature expired"
//   autoCreate               false: true accepts PutLogEvents to unknown groups/streams
// StandIn:
//   url                      'http://127.0.0.1:<port>'
//   stop()                   closes the server (Promise)
//   groups()                 [{name, retentionInDays, tags, streams: [names]}]
//   group(name)              one of those, or undefined
//   events(group, stream)    accepted events [{timestamp, message}], in arrival order
//   allEvents()              [{group, stream, timestamp, message}] in arrival order
//   requests()               every request: {operation, status, errorType, body (parsed JSON or
//                            null), rawBytes, signatureOk, time}
//   putBatches()             accepted PutLogEvents: {group, stream, events, bytes, rejected}
//   violations()             requests refused for a limit or a bad signature: {operation,
//                            errorType, message} (a correct client causes none)
//   throttleNext(n, op?)     the next n requests (of operation op, default PutLogEvents) get
//                            400 ThrottlingException
//   failNext(n, status, type, op?)  the next n requests (of op, default PutLogEvents) get this
//                            status and __type (e.g. 503 'ServiceUnavailableException')
//   setHandlerDelay(ms)      answers every request this late (slow service)
//   reset()                  forgets groups, events, requests and pending failures

import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export const TARGET_PREFIX = 'Logs_20140328.';
export const CONTENT_TYPE = 'application/x-amz-json-1.1';
export const MAX_BATCH_BYTES = 1048576;
export const MAX_BATCH_EVENTS = 10000;
export const EVENT_OVERHEAD_BYTES = 26;
export const MAX_SPAN_MS = 24 * 3600 * 1000;
export const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
export const MAX_FUTURE_MS = 2 * 3600 * 1000;
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
  2557, 2922, 3288, 3653];
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;  // bodies past this are refused unread (bounded memory)

class ServiceError extends Error {
  constructor(status, type, message, { violation = false } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.violation = violation;
  }
}
const invalid = (message) => new ServiceError(400, 'InvalidParameterException', message, { violation: true });

const GROUP_NAME = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const TAG_KEY = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$/u;
const TAG_VALUE = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;

function checkGroupName(name) {
  if (typeof name !== 'string' || !GROUP_NAME.test(name)) {
    throw invalid(`1 validation error detected: Value '${name}' at 'logGroupName' failed to satisfy constraint: ` +
      'Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and length 1..512');
  }
}
function checkStreamName(name) {
  if (typeof name !== 'string' || name.length < 1 || name.length > 512 || /[:*]/.test(name)) {
    throw invalid(`1 validation error detected: Value '${name}' at 'logStreamName' failed to satisfy constraint: ` +
      'Member must satisfy regular expression pattern: [^:*]* and length 1..512');
  }
}
function checkTags(tags) {
  if (tags === undefined) return;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) throw invalid('tags must be a map');
  const keys = Object.keys(tags);
  if (keys.length > 50) throw invalid(`Too many tags: ${keys.length} (at most 50)`);
  for (const k of keys) {
    const v = tags[k];
    if ([...k].length > 128 || !TAG_KEY.test(k) || k.toLowerCase().startsWith('aws:')) {
      throw invalid(`Invalid tag key '${k}'`);
    }
    if (typeof v !== 'string' || [...v].length > 256 || !TAG_VALUE.test(v)) throw invalid(`Invalid value of tag '${k}'`);
  }
}

// The signature the request should carry, computed by the JS SDK's signer over exactly the
// headers the client says it signed.
async function verifySignature(req, rawBody, { region, credentials, maxClockSkewMs, now }) {
  const auth = req.headers['authorization'] ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
    .exec(auth);
  if (!m) throw new ServiceError(400, 'IncompleteSignatureException', 'Authorization header missing or malformed');
  const [, akid, day, scopeRegion, service, signedHeaders, signature] = m;
  if (akid !== credentials.accessKeyId) {
    throw new ServiceError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (scopeRegion !== region || service !== 'logs') {
    throw new ServiceError(400, 'InvalidSignatureException',
      `Credential should be scoped to a valid region and service 'logs' in '${region}', not '${scopeRegion}/${service}'.`);
  }
  const amzDate = req.headers['x-amz-date'];
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? '');
  if (!dm) throw new ServiceError(400, 'IncompleteSignatureException', 'X-Amz-Date header missing or malformed');
  const signingDate = new Date(Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]));
  if (amzDate.slice(0, 8) !== day) throw new ServiceError(400, 'InvalidSignatureException', 'Date in Credential scope does not match X-Amz-Date');
  if (Math.abs(now() - signingDate.getTime()) > maxClockSkewMs) {
    throw new ServiceError(400, 'InvalidSignatureException', `Signature expired: ${amzDate} is too far from now.`);
  }
  const signed = signedHeaders.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signed.includes(required)) throw new ServiceError(400, 'InvalidSignatureException', `'${required}' must be a signed header`);
  }
  if (credentials.sessionToken) {
    if (req.headers['x-amz-security-token'] !== credentials.sessionToken) {
      throw new ServiceError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    if (!signed.includes('x-amz-security-token')) {
      throw new ServiceError(400, 'InvalidSignatureException', "'x-amz-security-token' must be a signed header");
    }
  }
  const headers = {};
  for (const name of signed) {
    // node joins repeated headers with ", " (set-cookie aside); rawHeaders keeps each as sent.
    const values = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i].toLowerCase() === name) values.push(req.rawHeaders[i + 1]);
    }
    if (values.length === 0) throw new ServiceError(400, 'InvalidSignatureException', `signed header '${name}' is missing`);
    headers[name] = values.join(',');
  }
  const url = new URL(req.url, 'http://placeholder');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? [].concat(query[k], v) : v;
  const [hostname] = (req.headers.host ?? '').split(':');
  const request = new HttpRequest({
    method: req.method, protocol: 'http:', hostname, path: url.pathname, query, headers, body: rawBody,
  });
  const signer = new SignatureV4({
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken },
    region, service: 'logs', sha256: Hash.bind(null, 'sha256'), applyChecksum: false,
  });
  const out = await signer.sign(request, { signingDate, signableHeaders: new Set(signed) });
  const expected = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)?.[1];
  if (expected !== signature) {
    throw new ServiceError(403, 'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret ' +
      'Access Key and signing method. Consult the service documentation for details.', { violation: true });
  }
}

export async function startStandIn(options = {}) {
  const region = options.region ?? 'us-east-1';
  const credentials = options.credentials;
  if (!credentials?.accessKeyId || !credentials?.secretAccessKey) {
    throw new Error('startStandIn: credentials {accessKeyId, secretAccessKey} are required');
  }
  const now = options.now ?? (() => Date.now());
  const maxEventBytes = options.maxEventBytes ?? 262144;
  const maxClockSkewMs = options.maxClockSkewMs ?? 15 * 60 * 1000;
  const autoCreate = options.autoCreate ?? false;

  const groups = new Map();  // name -> {name, retentionInDays, tags, streams: Map(name -> events[])}
  let all = [];
  let requests = [];
  let batches = [];
  let violations = [];
  let pending = [];  // [{op, n, status, type, message}]
  let delayMs = 0;

  const findGroup = (name) => {
    const g = groups.get(name);
    if (!g) throw new ServiceError(400, 'ResourceNotFoundException', 'The specified log group does not exist.');
    return g;
  };

  const operations = {
    CreateLogGroup(body) {
      checkGroupName(body.logGroupName);
      checkTags(body.tags);
      if (groups.has(body.logGroupName)) {
        throw new ServiceError(400, 'ResourceAlreadyExistsException', 'The specified log group already exists');
      }
      groups.set(body.logGroupName, { name: body.logGroupName, retentionInDays: undefined,
        tags: { ...(body.tags ?? {}) }, streams: new Map() });
      return {};
    },
    CreateLogStream(body) {
      checkGroupName(body.logGroupName);
      checkStreamName(body.logStreamName);
      const g = findGroup(body.logGroupName);
      if (g.streams.has(body.logStreamName)) {
        throw new ServiceError(400, 'ResourceAlreadyExistsException', 'The specified log stream already exists');
      }
      g.streams.set(body.logStreamName, []);
      return {};
    },
    PutRetentionPolicy(body) {
      checkGroupName(body.logGroupName);
      if (!RETENTION_DAYS.includes(body.retentionInDays)) {
        throw invalid(`1 validation error detected: Value '${body.retentionInDays}' at 'retentionInDays' failed to ` +
          `satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
      }
      findGroup(body.logGroupName).retentionInDays = body.retentionInDays;
      return {};
    },
    DescribeLogGroups() {
      return { logGroups: [...groups.values()].map((g) => ({ logGroupName: g.name, retentionInDays: g.retentionInDays })) };
    },
    PutLogEvents(body, rawBytes) {
      checkGroupName(body.logGroupName);
      checkStreamName(body.logStreamName);
      const events = body.logEvents;
      if (!Array.isArray(events) || events.length < 1) throw invalid('logEvents must hold at least one event');
      if (events.length > MAX_BATCH_EVENTS) {
        throw invalid(`1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must ` +
          `have length less than or equal to ${MAX_BATCH_EVENTS}`);
      }
      let bytes = 0;
      for (const [i, e] of events.entries()) {
        if (e === null || typeof e !== 'object' || !Number.isSafeInteger(e.timestamp) || e.timestamp < 0) {
          throw invalid(`logEvents.${i + 1}.timestamp must be a non-negative integer`);
        }
        if (typeof e.message !== 'string' || e.message.length < 1) {
          throw invalid(`1 validation error detected: Value at 'logEvents.${i + 1}.member.message' failed to ` +
            'satisfy constraint: Member must have length greater than or equal to 1');
        }
        const size = Buffer.byteLength(e.message, 'utf8') + EVENT_OVERHEAD_BYTES;
        if (size > maxEventBytes) throw invalid(`Log event too large: ${size} bytes exceeds limit of ${maxEventBytes}`);
        bytes += size;
        if (i > 0 && e.timestamp < events[i - 1].timestamp) {
          throw invalid('Log events in a single PutLogEvents request must be in chronological order.');
        }
      }
      if (bytes > MAX_BATCH_BYTES) throw invalid(`Upload too large: ${bytes} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
      if (events[events.length - 1].timestamp - events[0].timestamp > MAX_SPAN_MS) {
        throw invalid('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
      }
      let g = groups.get(body.logGroupName);
      if (!g && autoCreate) operations.CreateLogGroup({ logGroupName: body.logGroupName });
      g = findGroup(body.logGroupName);
      if (!g.streams.has(body.logStreamName)) {
        if (!autoCreate) throw new ServiceError(400, 'ResourceNotFoundException', 'The specified log stream does not exist.');
        g.streams.set(body.logStreamName, []);
      }
      // As the service does: too old, expired and too new events are rejected, the rest kept.
      const t = now();
      const oldest = t - MAX_AGE_MS;
      const expiredBefore = g.retentionInDays ? t - g.retentionInDays * 24 * 3600 * 1000 : -Infinity;
      let tooOldEnd = 0;
      while (tooOldEnd < events.length && events[tooOldEnd].timestamp < oldest) tooOldEnd++;
      let expiredEnd = 0;
      while (expiredEnd < events.length && events[expiredEnd].timestamp < expiredBefore) expiredEnd++;
      let tooNewStart = events.length;
      while (tooNewStart > 0 && events[tooNewStart - 1].timestamp > t + MAX_FUTURE_MS) tooNewStart--;
      const info = {};
      if (tooOldEnd > 0) info.tooOldLogEventEndIndex = tooOldEnd;
      if (expiredEnd > 0) info.expiredLogEventEndIndex = expiredEnd;
      if (tooNewStart < events.length) info.tooNewLogEventStartIndex = tooNewStart;
      const keptFrom = Math.max(tooOldEnd, expiredEnd);
      const kept = events.slice(keptFrom, Math.max(keptFrom, tooNewStart))
        .map((e) => ({ timestamp: e.timestamp, message: e.message }));
      const stream = g.streams.get(body.logStreamName);
      for (const e of kept) {
        stream.push(e);
        all.push({ group: g.name, stream: body.logStreamName, ...e });
      }
      const rejected = Object.keys(info).length > 0 ? info : undefined;
      batches.push({ group: g.name, stream: body.logStreamName, events: kept, count: events.length, bytes,
        rawBytes, rejected });
      const out = { nextSequenceToken: crypto.randomBytes(28).toString('hex') };
      if (rejected) out.rejectedLogEventsInfo = rejected;
      return out;
    },
  };

  const respond = (res, status, payload) => {
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': crypto.randomUUID(),
    });
    res.end(body);
  };

  async function handle(req, res, rawBody) {
    const record = { operation: null, status: 0, errorType: null, body: null, rawBytes: rawBody.length,
      signatureOk: false, time: Date.now() };
    requests.push(record);
    try {
      if (req.method !== 'POST' || new URL(req.url, 'http://x').pathname !== '/') {
        throw new ServiceError(404, 'UnknownOperationException', `${req.method} ${req.url} is not an operation`);
      }
      const target = req.headers['x-amz-target'] ?? '';
      const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : null;
      record.operation = operation;
      if (!operation || !Object.hasOwn(operations, operation)) {
        throw new ServiceError(400, 'UnknownOperationException', `Unknown X-Amz-Target '${target}'`);
      }
      await verifySignature(req, rawBody, { region, credentials, maxClockSkewMs, now });
      record.signatureOk = true;
      if ((req.headers['content-type'] ?? '').split(';')[0].trim() !== CONTENT_TYPE) {
        throw new ServiceError(400, 'SerializationException', `Content-Type must be ${CONTENT_TYPE}`, { violation: true });
      }
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
      } catch {
        throw new ServiceError(400, 'SerializationException', 'The request body is not valid UTF-8', { violation: true });
      }
      let body;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new ServiceError(400, 'SerializationException', `The request body is not JSON: ${e.message}`, { violation: true });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new ServiceError(400, 'SerializationException', 'The request body must be a JSON object', { violation: true });
      }
      record.body = body;
      const failure = pending.find((p) => p.op === operation || p.op === '*');
      if (failure) {
        if (--failure.n <= 0) pending = pending.filter((p) => p !== failure);
        throw new ServiceError(failure.status, failure.type, failure.message);
      }
      const out = operations[operation](body, rawBody.length);
      record.status = 200;
      respond(res, 200, out);
    } catch (e) {
      if (!(e instanceof ServiceError)) {
        record.status = 500;
        record.errorType = 'InternalFailure';
        respond(res, 500, { __type: 'InternalFailure', message: String(e?.stack ?? e) });
        return;
      }
      record.status = e.status;
      record.errorType = e.type;
      if (e.violation) violations.push({ operation: record.operation, errorType: e.type, message: e.message });
      respond(res, e.status, { __type: e.type, message: e.message });
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    let refused = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) {
        if (!refused) {
          refused = true;
          violations.push({ operation: null, errorType: 'RequestEntityTooLarge', message: `body over ${MAX_REQUEST_BYTES} bytes` });
          respond(res, 413, { __type: 'RequestEntityTooLarge', message: 'Request body too large' });
          req.destroy();
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      const go = () => handle(req, res, Buffer.concat(chunks)).catch((e) => {
        if (!res.headersSent) respond(res, 500, { __type: 'InternalFailure', message: String(e) });
      });
      if (delayMs > 0) setTimeout(go, delayMs); else go();
    });
  });
  server.keepAliveTimeout = 30000;
  server.listen(0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { address, port } = server.address();

  return {
    url: `http://${address}:${port}`,
    port,
    region,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
    groups() {
      return [...groups.values()].map((g) => ({ name: g.name, retentionInDays: g.retentionInDays, tags: { ...g.tags },
        streams: [...g.streams.keys()] }));
    },
    group(name) {
      return this.groups().find((g) => g.name === name);
    },
    events(group, stream) {
      return [...(groups.get(group)?.streams.get(stream) ?? [])];
    },
    allEvents() { return [...all]; },
    requests() { return [...requests]; },
    putBatches() { return [...batches]; },
    violations() { return [...violations]; },
    throttleNext(n, op = 'PutLogEvents') {
      pending.push({ op, n, status: 400, type: 'ThrottlingException', message: 'Rate exceeded' });
    },
    failNext(n, status, type, op = 'PutLogEvents') {
      pending.push({ op, n, status, type, message: `${type} injected by the stand-in` });
    },
    setHandlerDelay(ms) { delayMs = ms; },
    reset() {
      groups.clear();
      all = []; requests = []; batches = []; violations = []; pending = [];
    },
  };
}
