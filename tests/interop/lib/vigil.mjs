// Runs the real `vigil` binary for the interop tests: free loopback ports, a config with the
// otlp receiver (HTTP and, when asked, gRPC) feeding the file exporter, a bounded wait for the
// health_check extension, and a bounded SIGTERM stop. Everything Vigil prints is kept so a
// failing test can show it.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// A loopback TCP port that was free a moment ago (the kernel picks it; the listener is closed
// again before Vigil binds it).
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
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
    'extensions:\n' +
    '  health_check:\n' +
    `    endpoint: 127.0.0.1:${healthPort}\n` +
    'service:\n' +
    '  extensions: [health_check]\n' +
    '  telemetry:\n' +
    '    metrics:\n' +
    `      address: 127.0.0.1:${metricsPort}\n` +
    '  pipelines:\n' +
    pipeline('traces') +
    pipeline('metrics') +
    pipeline('logs')
  );
}

export class Vigil {
  // binary: path of the vigil executable; grpc: whether to enable protocols.grpc.
  constructor(binary, { grpc }) {
    this.binary = binary;
    this.grpc = grpc;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-interop-'));
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
    fs.writeFileSync(this.configFile, vigilConfig(this));

    this.proc = spawn(this.binary, ['--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
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
          const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          return res.status === 200;
        } catch {
          return false;
        }
      },
      () => (this.exit ? `vigil exited early (${JSON.stringify(this.exit)})` : null),
    );
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
