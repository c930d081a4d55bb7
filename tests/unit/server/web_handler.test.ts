import assert from "node:assert/strict";
import { HttpResponse } from "../../../filters/context.ts";
import { webHandler } from "../../../server/httpserver/web_handler.ts";

/** Sends `head` over a raw connection (so its target goes as written) and returns the answer's body. */
async function send(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(head));
  const answer = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
  return answer.slice(answer.indexOf("\r\n\r\n") + 4);
}

Deno.test("webHandler: Deno.serve's requests are routed without their dot segments", async () => {
  const web = webHandler((request) => new HttpResponse(200, undefined, request.url), "HTTP/1.1");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => web(req, () => info.remoteAddr),
  );
  try {
    const port = server.addr.port;
    const paths: [string, string][] = [
      ["/public/../admin?x=1", "/admin?x=1"],
      ["/public/%2e%2E/admin", "/admin"],
      ["/a/./b/", "/a/b/"],
      ["/a/b", "/a/b"],
    ];
    for (const [sent, routed] of paths) {
      const body = await send(port, `GET ${sent} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(body, routed, sent);
    }
  } finally {
    await server.shutdown();
  }
});
