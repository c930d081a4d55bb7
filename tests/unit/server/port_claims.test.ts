import assert from "node:assert/strict";
import { builtinFilters } from "../../../filters/registry.ts";
import { DataPlane } from "../../../server/dataplane.ts";
import { LogSink } from "../../../server/log.ts";
import { type ObjectSpec, validateObject } from "../../../server/objects.ts";
import { PortClaims } from "../../../server/port_claims.ts";

function listener(kind: string, name: string, port: number, address?: string): ObjectSpec {
  return { kind, name, port, ...(address ? { address } : {}) } as unknown as ObjectSpec;
}

Deno.test("port claims refuse a second listening object on a held port, naming the holder", () => {
  const claims = new PortClaims();
  const a = listener("HTTPServer", "a", 20090);
  const b = listener("HTTPServer", "b", 20090);
  const ws = listener("WebSocketServer", "ws", 20090);
  const pipeline = { kind: "Pipeline", name: "p" } as unknown as ObjectSpec;
  assert.deepEqual(
    [...claims.settle([a, b, ws, pipeline])],
    [
      ["b", "port: 20090 is already used by HTTPServer a"],
      ["ws", "port: 20090 is already used by HTTPServer a"],
    ],
  );
  // The holder keeps its port whatever the order; once it is gone the next one takes it.
  assert.deepEqual([...claims.settle([b, a]).keys()], ["b"]);
  assert.deepEqual([...claims.settle([b]).keys()], []);
  assert.deepEqual([...claims.settle([a, b]).keys()], ["a"]);
  // The holder moving to another port frees this one.
  assert.deepEqual([...claims.settle([a, listener("HTTPServer", "b", 20091)]).keys()], []);
});

Deno.test("port claims let distinct addresses share a port, not the any address", () => {
  const claims = new PortClaims();
  const one = listener("HTTPServer", "one", 20090, "127.0.0.1");
  const two = listener("HTTPServer", "two", 20090, "127.0.0.2");
  const any = listener("HTTPServer", "any", 20090, "0.0.0.0");
  assert.deepEqual([...claims.settle([one, two, any]).keys()], ["any"]);
});

Deno.test("port claims compare addresses as sockets do, not as written", () => {
  const claims = new PortClaims();
  const claim = (name: string, address: string) => listener("HTTPServer", name, 20090, address);
  // Each pair is one socket address written two ways: the kernel would split connections.
  for (
    const [a, b] of [
      ["::1", "[::1]"],
      ["::1", "0:0:0:0:0:0:0:1"],
      ["127.0.0.1", "::ffff:127.0.0.1"],
      ["127.0.0.1", "localhost"],
      ["[::1]", "LocalHost."],
      ["[::]", "127.0.0.1"],
    ]
  ) {
    assert.deepEqual(
      [...claims.settle([claim("a", a), claim("b", b)])],
      [["b", "port: 20090 is already used by HTTPServer a"]],
      `${a} and ${b}`,
    );
    claims.settle([]);
  }
  assert.deepEqual(
    [...claims.settle([claim("a", "localhost"), claim("b", "10.0.0.1"), claim("c", "::2")])],
    [],
  );
});

Deno.test("a data plane sharing ports (reusePort) runs one HTTPServer per port", async () => {
  const plane = new DataPlane({
    filters: builtinFilters(),
    logs: new LogSink({ level: "error" }),
    reusePort: true,
  });
  const port = 20000 + Math.floor(Math.random() * 1000);
  const server = (name: string) =>
    validateObject({ kind: "HTTPServer", name, port, rules: [] }, builtinFilters());
  try {
    const failures = await plane.apply([server("a"), server("b")]);
    assert.deepEqual(failures, [{
      name: "b",
      message: `port: ${port} is already used by HTTPServer a`,
    }]);
    // Shaped as a running server's status, as Easegress reports one that cannot listen.
    const failed = plane.status("b")!;
    assert.equal(failed.state, "failed");
    assert.equal(failed.name, "b");
    assert.equal(failed.count, 0);
    assert.deepEqual(failed.topN, []);
    assert.deepEqual(Object.keys(failed), Object.keys(plane.status("a")!));
    assert.equal(plane.status("a")?.name, "a");
    // Once the holder is gone the other one runs.
    assert.deepEqual(await plane.apply([server("b")]), []);
    assert.equal(plane.status("b")?.name, "b");
  } finally {
    await plane.close();
  }
});
