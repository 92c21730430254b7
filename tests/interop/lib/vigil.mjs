// Runs the real `vigil` binary for the interop tests: free loopback ports, a config (by default
// the otlp receiver, HTTP and, when asked, gRPC, feeding the file exporter; or the test's own), a
// bounded wait for the health_check extension, its self-metrics, and a bounded SIGTERM stop.
// Everything Vigil prints is kept so a failing test can show it. Also what every interop test
// checks first (the built binaries and the installed packages it needs), and the environment
// that gives vigil's AWS credential chain fixed credentials and nothing else.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

// tests/interop, and where its packages (package-lock.json) are installed: ctest names the
// folder in VIGIL_INTEROP_NODE_MODULES.
// GET on a connection of its own (no keep-alive pool): polling a server that closes idle
// connections (the self-metrics endpoint) through fetch's pool races that close and fails with
// "other side closed" when the pooled socket is reused just as the server drops it.
export function getFresh(url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export const interopDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const nodeModules = process.env.VIGIL_INTEROP_NODE_MODULES ?? path.join(interopDir, 'node_modules');

// The path the environment variable `variable` names (ctest sets it to a built target); when it
// names nothing that exists, says so and ends the process at once, before any test runs.
export function requiredFile(variable, what) {
  const file = process.env[variable];
  if (!file || !fs.existsSync(file)) {
    console.error(`${variable} must name ${what} (got ${JSON.stringify(file)})`);
    process.exit(1);
  }
  return file;
}

// A `require` that loads the interop packages from nodeModules. When `probe` (a package name)
// is not installed there, says how to install it (`what` names it for the reader) and ends the
// process at once.
export function interopRequire(probe, what = probe) {
  if (!fs.existsSync(path.join(nodeModules, ...probe.split('/'), 'package.json'))) {
    console.error(`${what} is not installed in ${nodeModules}: run \`npm ci\` in ${interopDir} (scripts/test.sh does).`);
    process.exit(1);
  }
  return createRequire(path.join(nodeModules, 'noop.js'));
}

// The environment for a vigil whose credential chain must find `credentials` ({accessKeyId,
// secretAccessKey, sessionToken?}) in the environment and nothing else: every other AWS_*
// variable removed, no ~/.aws (HOME is `home`; the files AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE name do not exist), no instance metadata, and no proxy (the
// servers the tests run are on loopback).
export function awsEnvironment(credentials, home) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('AWS_') || /^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  }
  Object.assign(env, {
    HOME: home,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: path.join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
    NO_PROXY: '*',
  });
  if (credentials.sessionToken) env.AWS_SESSION_TOKEN = credentials.sessionToken;
  return env;
}

// A loopback TCP port that was free a moment ago (the kernel picks it; the listener is closed
// again before Vigil binds it).
// A port free on 127.0.0.1 a moment ago, picked at random below the kernel's ephemeral range:
// a port from listen(0) is one the kernel also hands to outgoing connections, and the traffic of
// tests running side by side could take it before vigil binds it ("Address already in use").
// Ports under the range are only taken by listeners. Same rule as tests/support/process.cpp.
export async function freePort() {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {}
  const from = Math.max(1024, low - 12000);
  const to = Math.max(from + 1000, low - 1);
  for (let attempt = 0; attempt < 200; ++attempt) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    const server = net.createServer();
    const ok = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      server.close();
      await once(server, 'close');
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range');
}

// Polls `probe` until it returns true or `timeoutMs` passes; throws with `what` on timeout.
// `abort` (optional) is checked each round and ends the wait at once with its message.
export async function eventually(what, timeoutMs, probe, abort = () => null) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = abort();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// The part of every interop config that the harness relies on: the health_check extension
// start() waits for, next to the test's own `extensions` (YAML indented by two) whose IDs are
// `ids`, and the self-metrics endpoint selfMetric() reads. It ends inside `service:` (no newline):
// the test's `  pipelines:` follow.
export function harnessYaml({ healthPort, metricsPort }, { extensions = '', ids = [] } = {}) {
  return (
    'extensions:\n' +
    extensions +
    '  health_check:\n' +
    `    endpoint: 127.0.0.1:${healthPort}\n` +
    'service:\n' +
    `  extensions: [${[...ids, 'health_check'].join(', ')}]\n` +
    '  telemetry:\n' +
    '    metrics:\n' +
    `      address: 127.0.0.1:${metricsPort}`
  );
}

export function vigilConfig({ httpPort, grpcPort, healthPort, metricsPort, outFile }) {
  const grpc = grpcPort ? `      grpc:\n        endpoint: 127.0.0.1:${grpcPort}\n` : '';
  const pipeline = (signal) =>
    `    ${signal}:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [file]\n`;
  return (
    'receivers:\n' +
    '  otlp:\n' +
    '    protocols:\n' +
    '      http:\n' +
    `        endpoint: 127.0.0.1:${httpPort}\n` +
    grpc +
    'processors:\n' +
    '  batch:\n' +
    '    timeout: 100ms\n' +
    'exporters:\n' +
    '  file:\n' +
    `    path: ${outFile}\n` +
    '    format: json\n' +
    harnessYaml({ healthPort, metricsPort }) +
    '\n  pipelines:\n' +
    pipeline('traces') +
    pipeline('metrics') +
    pipeline('logs')
  );
}

export class Vigil {
  // binary: path of the vigil executable. Options:
  //   grpc    whether vigilConfig() enables protocols.grpc
  //   config  (vigil) => YAML, the test's own config instead of vigilConfig(): it must run the
  //           health_check extension on vigil.healthPort (start() waits for it) and the
  //           self-metrics on vigil.metricsPort (selfMetric() reads them); vigil.httpPort is free
  //           for a receiver and vigil.dir for files
  //   env     (dir) => the process's environment (default: this process's)
  //   prefix  the temporary folder's name
  constructor(binary, { grpc = false, config = vigilConfig, env = () => process.env, prefix = 'vigil-interop-' } = {}) {
    this.binary = binary;
    this.grpc = grpc;
    this.config = config;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.env = env(this.dir);
    this.outFile = path.join(this.dir, 'out.jsonl');
    this.configFile = path.join(this.dir, 'vigil.yaml');
    this.output = '';  // stdout and stderr, interleaved as they arrive
    this.exit = null;  // {code, signal} once the process has exited
    this.proc = null;
  }

  async start(timeoutMs) {
    this.httpPort = await freePort();
    this.grpcPort = this.grpc ? await freePort() : 0;
    this.healthPort = await freePort();
    this.metricsPort = await freePort();
    fs.writeFileSync(this.configFile, this.config(this));

    this.proc = spawn(this.binary, ['--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.output += `\n[spawn error] ${err.message}\n`;
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
    const keep = (chunk) => {
      // Bounded: a runaway log must not eat the test's memory.
      if (this.output.length < 4 * 1024 * 1024) this.output += chunk.toString();
    };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);

    const healthUrl = `http://127.0.0.1:${this.healthPort}/`;
    await eventually(
      'vigil health_check answering 200',
      timeoutMs,
      async () => {
        try {
          return (await getFresh(healthUrl, 1000)).status === 200;
        } catch {
          return false;
        }
      },
      () => this.exitReason(),
    );
  }

  // Why vigil is not running any more, or null while it runs: an `abort` for eventually().
  exitReason() {
    return this.exit ? `vigil exited early (${JSON.stringify(this.exit)})` : null;
  }

  // The sum of the self-metric `name` over its series whose labels include the text `labels`
  // (e.g. 'outcome="throttled"'), from the Prometheus endpoint; 0 when there is none.
  async selfMetric(name, labels = '') {
    const { body } = await getFresh(`http://127.0.0.1:${this.metricsPort}/metrics`, 2000);
    let sum = 0;
    for (const l of body.split('\n')) {
      if ((l.startsWith(name + '{') || l.startsWith(name + ' ')) && l.includes(labels)) {
        sum += Number(l.slice(l.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  // SIGTERM by PID, then wait (bounded) for the exit; SIGKILL if it does not come.
  async stop(timeoutMs) {
    if (!this.proc || this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const cancel = new AbortController();
    const timer = sleep(timeoutMs, null, { signal: cancel.signal }).catch(() => null);
    const result = await Promise.race([this.exited, timer]);
    cancel.abort();
    if (!result) {
      this.proc.kill('SIGKILL');
      await this.exited;
      throw new Error(`vigil did not exit within ${timeoutMs} ms of SIGTERM (killed)`);
    }
    return result;
  }

  // The file exporter's output: one OTLP/JSON export request per line. A line that does not parse
  // is an error (the exporter promises whole records only).
  readOutput() {
    if (!fs.existsSync(this.outFile)) return [];
    const text = fs.readFileSync(this.outFile, 'utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] !== '') throw new Error('file exporter output does not end with a newline');
    lines.pop();
    return lines.map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        throw new Error(`file exporter output line ${i + 1} is not JSON (${err.message}): ${line.slice(0, 200)}`);
      }
    });
  }

  removeDir() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
