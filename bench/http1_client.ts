/**
 * Micro benchmark: a minimal reverse proxy on `Deno.serve` whose upstream
 * client is `Http1Pool`, against the same proxy using `fetch`, both loaded
 * by `wrk`. The backend runs in a worker so it has its own thread.
 *
 * Not run by tests. Usage:
 *
 * ```sh
 * deno run --allow-all bench/http1_client.ts [--duration=5s] [--connections=64] [--body=13]
 * ```
 *
 * @module
 */

import process from "node:process";
import { Http1Pool } from "../filters/proxy/http1_client.ts";

function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return Deno.args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const duration = flag("duration", "5s");
const connections = flag("connections", "64");
const bodySize = Number(flag("body", "13"));

/** The backend: answers every request with `bodySize` bytes, in its own worker thread. */
function startBackend(): Promise<{ port: number; worker: Worker }> {
  const source = `
    const body = new Uint8Array(${bodySize}).fill(120);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
      new Response(body, { headers: { "content-type": "text/plain" } }));
    self.postMessage(server.addr.port);
  `;
  const url = `data:application/javascript,${encodeURIComponent(source)}`;
  const worker = new Worker(url, { type: "module" });
  return new Promise((resolve) => {
    worker.onmessage = (event) => resolve({ port: event.data as number, worker });
  });
}

type Handler = (req: Request) => Promise<Response>;

/** `useBytes` takes `bodyBytes` when the body arrived whole, as the Proxy filter can. */
function poolProxy(pool: Http1Pool, host: string, useBytes: boolean): Handler {
  return async (req) => {
    const url = req.url;
    // The target starts at the first "/" after "http://host".
    const target = url.slice(url.indexOf("/", 8));
    const res = await pool.request({
      method: req.method,
      target,
      host,
      headers: req.headers,
      body: req.body,
    });
    const body = useBytes ? res.bodyBytes ?? res.body : res.body;
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

function fetchProxy(origin: string): Handler {
  return async (req) => {
    const url = req.url;
    const res = await fetch(origin + url.slice(url.indexOf("/", 8)), {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  };
}

async function load(name: string, handler: Handler): Promise<number> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}/bench?x=1`;
  // A short warm-up so both proxies are measured with JIT-compiled code.
  await new Deno.Command("wrk", { args: ["-t1", `-c${connections}`, "-d1s", url], stdout: "null" })
    .output();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${duration}`, url],
    stdout: "piped",
  }).output();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  await server.shutdown();
  const text = new TextDecoder().decode(out.stdout);
  const match = text.match(/Requests\/sec:\s+([\d.]+)/);
  if (!match) throw new Error(`Cannot read wrk output for ${name}:\n${text}`);
  const errors = text.match(/Non-2xx or 3xx responses: \d+|Socket errors: .*/g);
  const rps = Number(match[1]);
  // The machine is shared: requests per CPU-second of this process (proxy
  // plus the backend worker) is steadier than requests per second.
  const perCpuSecond = (rps * seconds) / ((cpu.user + cpu.system) / 1e6);
  const note = errors ? `  (${errors.join("; ")})` : "";
  console.log(
    `${name.padEnd(24)} ${rps.toFixed(0).padStart(7)} req/s ${
      perCpuSecond.toFixed(0).padStart(7)
    } req/CPU-s${note}`,
  );
  return rps;
}

if (import.meta.main) {
  const backend = await startBackend();
  const host = `127.0.0.1:${backend.port}`;
  console.log(`wrk -t1 -c${connections} -d${duration}, ${bodySize}-byte responses`);
  const pool = new Http1Pool({ hostname: "127.0.0.1", port: backend.port });
  const pooled = await load("Http1Pool (bodyBytes)", poolProxy(pool, host, true));
  await load("Http1Pool (body stream)", poolProxy(pool, host, false));
  console.log(`  pool stats: ${JSON.stringify(pool.stats)}`);
  pool.close();
  const fetched = await load("fetch", fetchProxy(`http://${host}`));
  console.log(`Http1Pool / fetch = ${(pooled / fetched).toFixed(2)}`);
  backend.worker.terminate();
}
