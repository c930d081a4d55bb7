/**
 * A mirror backend: answers every request with a description of the request
 * it got, like Easegress's example/backend-service/mirror. Listens on the
 * ports given as arguments (default 9095 9096 9097).
 *
 * Run: deno run --allow-net examples/mirror.ts [PORT...]
 *
 * @module
 */

/** Renders a request the way the Go mirror does. */
export async function describeRequest(req: Request): Promise<string> {
  const url = new URL(req.url);
  const headers: Record<string, string[]> = {};
  req.headers.forEach((value, name) => {
    // Go keeps Host out of the header map; so does this mirror.
    if (name === "host") return;
    const canonical = name.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
    (headers[canonical] ??= []).push(value);
  });
  const header = Object.keys(headers).sort().map((k) => `${k}:[${headers[k].join(" ")}]`)
    .join(" ");
  return [
    "Your Request",
    "===============",
    `Method: ${req.method}`,
    `URL   : ${url.pathname}${url.search}`,
    `Header: map[${header}]`,
    `Body  : ${await req.text()}`,
    "",
  ].join("\n");
}

/**
 * Starts one mirror server per port; returns them. `onRequest` is told the
 * index of the server that answered (tests count load balancing with it).
 */
export function startMirrors(
  ports: number[],
  hostname = "127.0.0.1",
  onRequest?: (index: number) => void,
): Deno.HttpServer<Deno.NetAddr>[] {
  return ports.map((port, index) =>
    Deno.serve({ port, hostname, onListen() {} }, async (req) => {
      onRequest?.(index);
      return new Response(await describeRequest(req));
    })
  );
}

if (import.meta.main) {
  const bad = Deno.args.find((a) => !/^\d+$/.test(a) || Number(a) < 1 || Number(a) > 65535);
  if (bad !== undefined) {
    console.error(`usage: mirror.ts [PORT...] (default 9095 9096 9097); not a port: ${bad}`);
    Deno.exit(2);
  }
  const ports = Deno.args.length ? Deno.args.map(Number) : [9095, 9096, 9097];
  startMirrors(ports);
  console.log(`mirror backend listening on ${ports.map((p) => `127.0.0.1:${p}`).join(", ")}`);
}
