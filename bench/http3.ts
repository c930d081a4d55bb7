/**
 * HTTP/3 vs HTTP/2-over-TLS requests/s with the same small handler.
 *
 * HTTP/3: `serveHttp3`, loaded with `h2load --alpn-list=h3` when this h2load
 * was built with HTTP/3, otherwise with concurrent ngtcp2 `gtlsclient` runs
 * (each one connection carrying many concurrent requests; process start and
 * handshake are included, so this is a lower bound).
 * HTTP/2: `Deno.serve` with TLS (HTTP/2 by ALPN), loaded with h2load.
 *
 * Not run in CI. Usage:
 *   deno run --unstable-net --allow-all bench/http3.ts [--seconds=5]
 *
 * @module
 */

import { serveHttp3 } from "../server/http3/mod.ts";
import { makeSelfSignedCert } from "../tools/self_signed_cert.ts";

const seconds = Number(Deno.args.find((a) => a.startsWith("--seconds="))?.slice(10) ?? 5);
const BODY = "hello from the benchmark\n";
/** h2load's load shape for both protocols: `seconds` long, 10 connections x 10 streams. */
const H2LOAD_LOAD = ["-D", String(seconds), "-c", "10", "-m", "10"];

function handler(): Response {
  return new Response(BODY, { headers: { "content-type": "text/plain" } });
}

async function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder();
    return { code: output.code, out: text.decode(output.stdout) + text.decode(output.stderr) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { code: 127, out: `${command}: not found` };
    throw error;
  }
}

/** Requests/s from h2load's "finished in ..., N req/s" line, or NaN. */
function h2loadRate(out: string): number {
  const match = out.match(/finished in [\d.]+m?s, ([\d.]+) req\/s/);
  return match ? Number(match[1]) : NaN;
}

async function h2loadSupportsH3(): Promise<boolean> {
  const { out } = await run("h2load", ["--help"]);
  return out.includes("--alpn-list") && /\bh3\b/.test(out);
}

async function benchHttp3(cert: string, key: string): Promise<string> {
  const server = serveHttp3({ hostname: "127.0.0.1", port: 0, cert, key, handler });
  const url = `https://127.0.0.1:${server.addr.port}/`;
  try {
    if (await h2loadSupportsH3()) {
      const { out } = await run("h2load", ["--alpn-list=h3", ...H2LOAD_LOAD, url]);
      return `${
        h2loadRate(out).toFixed(0)
      } req/s (h2load --alpn-list=h3, 10 connections x 10 streams)`;
    }
    // Fallback: waves of gtlsclient processes, each one connection with `perConnection` streams.
    const parallel = 4;
    const perConnection = 100;
    let requests = 0;
    let failures = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const { code } = await run("gtlsclient", [
          "-q",
          "--exit-on-all-streams-close",
          "--timeout=10s",
          "-n",
          String(perConnection),
          "127.0.0.1",
          String(server.addr.port),
          url,
        ]);
        if (code === 0) requests += perConnection;
        else failures++;
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const rate = requests / ((performance.now() - started) / 1000);
    return `${rate.toFixed(0)} req/s (${parallel} concurrent gtlsclient runs x ${perConnection} ` +
      `streams each, handshakes included${failures ? `, ${failures} failed runs` : ""}; ` +
      `this h2load has no HTTP/3)`;
  } finally {
    await server.shutdown(1000);
  }
}

async function benchHttp2(cert: string, key: string): Promise<string> {
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    signal: controller.signal,
    onListen: () => {},
  }, handler);
  try {
    const { code, out } = await run("h2load", [
      ...H2LOAD_LOAD,
      `https://127.0.0.1:${server.addr.port}/`,
    ]);
    if (code === 127) return "skipped: h2load not found (Debian package nghttp2-client)";
    return `${h2loadRate(out).toFixed(0)} req/s (h2load, 10 connections x 10 streams, Deno.serve)`;
  } finally {
    controller.abort();
    await server.finished;
  }
}

if (import.meta.main) {
  const tls = await makeSelfSignedCert({ names: ["localhost"], ipAddresses: ["127.0.0.1"] });
  await Deno.remove(tls.dir, { recursive: true });
  const { cert, key } = tls;
  console.log(`HTTP/3: ${await benchHttp3(cert, key)}`);
  console.log(`HTTP/2: ${await benchHttp2(cert, key)}`);
}
