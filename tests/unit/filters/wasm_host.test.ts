/**
 * WasmHost's instances in the filter itself: a `wasm_init` that never
 * returns is bounded by `timeout` (the request that waited gets
 * `wasmError`, the instance ends, counted and logged once), the pool serves
 * the next request, and closing the filter ends every instance, those still
 * starting too. Modules are built with wabt's `wat2wasm`.
 */

import assert from "node:assert/strict";
import { codeRetry, wasmHostKind } from "../../../filters/wasm_host.ts";
import type { FilterInstance } from "../../../filters/filter.ts";
import { contextFor, testEnv } from "./_helpers.ts";

const EXPORTS = `
  (memory (export "memory") 1)
  (func (export "wasm_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wasm_free") (param i32))
  (func (export "wasm_run") (result i32) (i32.const 0))`;
const INIT_LOOPS = `(module ${EXPORTS}\n  (func (export "wasm_init") (loop $l (br $l))))`;
const GOOD = `(module ${EXPORTS})`;

/** The module of `wat` in base64, as a spec's `code`. */
async function build(wat: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "eg-wasm-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/m.wat`, wat);
    const out = await new Deno.Command("wat2wasm", {
      args: [`${dir}/m.wat`, "-o", `${dir}/m.wasm`],
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return (await Deno.readFile(`${dir}/m.wasm`)).toBase64();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Host = FilterInstance & { readonly liveInstances: number };

/**
 * A WasmHost of `code`. Its timeout is long unless `spec` sets one: only the
 * tests of the timeout should meet it on a loaded machine.
 */
function host(code: string, spec: Record<string, unknown> = {}) {
  const env = testEnv();
  const filter = wasmHostKind.create(
    wasmHostKind.validate({ code, timeout: "5s", maxConcurrency: 2, ...spec }),
    env,
  ) as Host;
  return { filter, lines: env.lines };
}

async function call(filter: Host) {
  const ctx = contextFor({ path: "/" });
  const started = Date.now();
  const result = await filter.handle(ctx);
  return { result, status: ctx.response?.status, ms: Date.now() - started };
}

function status(filter: Host) {
  return filter.status!() as { health: string; numOfRequest: number; numOfWasmError: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a worker once, so that loading (under `deno test`, checking) its code is not timed. */
async function warmUp(): Promise<void> {
  const { filter } = host(await build(GOOD));
  await call(filter);
  await filter.close?.();
}

Deno.test("WasmHost: a wasm_init that never returns ends with its instance in about the timeout (wasmError, 500)", async () => {
  await warmUp();
  const { filter, lines } = host(await build(INIT_LOOPS), { timeout: "200ms" });
  try {
    const first = await call(filter);
    assert.deepEqual([first.result, first.status], ["wasmError", 500]);
    // Not forever: a loaded machine may take seconds to start the instance's worker thread.
    assert.ok(first.ms >= 150 && first.ms < 30_000, `answered after ${first.ms} ms`);
    assert.equal(filter.liveInstances, 0);
    assert.deepEqual(
      lines.filter((l) => l.startsWith("error:")),
      ["error: wasm_init did not return within 200ms: its instance was stopped"],
    );
    // Its thread may still run (the runtime cannot stop a looping worker): no more are
    // started for this code, so later requests fail at once rather than add one each.
    const next = await call(filter);
    assert.deepEqual([next.result, next.status], ["wasmError", 500]);
    assert.ok(next.ms < 150, `answered after ${next.ms} ms`);
    const three = await Promise.all([call(filter), call(filter), call(filter)]);
    assert.deepEqual(three.map((c) => c.status), [500, 500, 500]);
    assert.equal(filter.liveInstances, 0);
    assert.deepEqual(status(filter), {
      health: "wasm_init did not return within 200ms",
      numOfRequest: 5,
      numOfWasmError: 5,
    });
    assert.equal(lines.filter((l) => l.startsWith("error:")).length, 1);
  } finally {
    await filter.close?.();
  }
  assert.equal(filter.liveInstances, 0);
});

Deno.test("WasmHost: the first instance's hung wasm_init is ended with no request waiting, and counted for none", async () => {
  await warmUp();
  const { filter, lines } = host(await build(INIT_LOOPS), { timeout: "200ms" });
  try {
    await sleep(100);
    assert.equal(filter.liveInstances, 1); // the instance started with the code
    await sleep(800);
    assert.equal(filter.liveInstances, 0);
    assert.deepEqual(status(filter), {
      health: "wasm_init did not return within 200ms",
      numOfRequest: 0,
      numOfWasmError: 0,
    });
    assert.equal(lines.length, 1);
  } finally {
    await filter.close?.();
  }
});

Deno.test("WasmHost: closing ends every instance, those still in wasm_init too; their request gets outOfVM", async () => {
  await warmUp();
  const { filter } = host(await build(INIT_LOOPS), { timeout: "5s" });
  const waiting = [call(filter), call(filter), call(filter)];
  await sleep(200);
  assert.equal(filter.liveInstances, 2);
  await filter.close?.();
  assert.equal(filter.liveInstances, 0);
  const answers = await Promise.all(waiting);
  assert.deepEqual(answers.map((a) => a.status), [503, 503, 503]);
  assert.ok(answers.every((a) => a.ms < 1_000), JSON.stringify(answers));
  assert.deepEqual(status(filter).numOfWasmError, 0);
});

Deno.test("WasmHost: a good module keeps its instances until closed", async () => {
  const { filter, lines } = host(await build(GOOD));
  try {
    await Promise.all([call(filter), call(filter)]);
    for (let i = 0; i < 3; i++) assert.equal((await call(filter)).result, "");
    assert.equal(filter.liveInstances, 2);
    assert.deepEqual(status(filter), { health: "", numOfRequest: 5, numOfWasmError: 0 });
    assert.deepEqual(lines, []);
  } finally {
    await filter.close?.();
  }
  assert.equal(filter.liveInstances, 0);
});

/** A module answering with the request's X-A header (host_req_get_header) as its body. */
const ECHO_HEADER = `(module
  (import "easegress" "host_req_get_header" (func $get_header (param i32) (result i32)))
  (import "easegress" "host_resp_set_body" (func $set_body (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "\\04\\00\\00\\00X-A\\00")
  (func (export "wasm_alloc") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const 8))))
    (local.get $at))
  (func (export "wasm_free") (param i32))
  (func (export "wasm_run") (result i32)
    (local $s i32)
    (local.set $s (call $get_header (i32.const 16)))
    ;; A string's length counts its NUL; the body is the same bytes without it.
    (i32.store (local.get $s) (i32.sub (i32.load (local.get $s)) (i32.const 1)))
    (call $set_body (local.get $s))
    (i32.const 0)))`;

Deno.test("WasmHost: host_req_get_header gives a repeated header's first field, as Go's Header.Get", async () => {
  const { filter } = host(await build(ECHO_HEADER));
  try {
    const ctx = contextFor({ headers: [["x-a", "first"], ["x-a", "second"]] });
    assert.equal(await filter.handle(ctx), "");
    assert.equal(await ctx.response!.text(), "first");
  } finally {
    await filter.close?.();
  }
});

/**
 * A module answering with the bytes whose ABI data address `call` (WAT
 * instructions, with a local `$s` to use) leaves; key "k" is at 16,
 * string "hello" at 32 and "/x y" at 48.
 */
function answeringWith(imports: string, call: string): string {
  return `(module
  ${imports}
  (import "easegress" "host_resp_set_body" (func $set_body (param i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "\\02\\00\\00\\00k\\00")
  (data (i32.const 32) "\\06\\00\\00\\00hello\\00")
  (data (i32.const 48) "\\05\\00\\00\\00/x y\\00")
  (func (export "wasm_alloc") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const 8))))
    (local.get $at))
  (func (export "wasm_free") (param i32))
  (func (export "wasm_run") (result i32)
    (local $s i32)
    (call $set_body ${call})
    (i32.const 0)))`;
}

Deno.test("WasmHost: host_cluster_get_binary of a value that is not base64 gives no bytes, not a trap", async () => {
  const { filter, lines } = host(
    await build(answeringWith(
      `(import "easegress" "host_cluster_put_string" (func $put (param i32 i32)))
  (import "easegress" "host_cluster_get_binary" (func $get (param i32) (result i32)))`,
      // "hello", as `ctl wasm apply-data` stores a value, read back as binary.
      "(call $put (i32.const 16) (i32.const 32)) (call $get (i32.const 16))",
    )),
  );
  try {
    const ctx = contextFor({ path: "/" });
    assert.equal(await filter.handle(ctx), "", lines.join("\n"));
    assert.equal(ctx.response!.status, 200);
    assert.equal(await ctx.response!.text(), "");
  } finally {
    await filter.close?.();
  }
});

Deno.test("WasmHost: the request's path reads decoded and escaped, and its headers without Host, as in Go", async () => {
  const getters = [
    ["host_req_get_path", "/a b/c/d"],
    ["host_req_get_escaped_path", "/a%20b/c%2Fd"],
    ["host_req_get_all_header", "X-A: 1\r\n"],
  ];
  for (const [getter, expected] of getters) {
    const { filter } = host(
      await build(answeringWith(
        `(import "easegress" "${getter}" (func $get (result i32)))`,
        // A string's length counts its NUL; data's does not.
        "(local.set $s (call $get)) (i32.store (local.get $s) (i32.sub (i32.load (local.get $s)) (i32.const 1))) (local.get $s)",
      )),
    );
    try {
      const ctx = contextFor({
        path: "/a%20b/c%2Fd",
        host: "h",
        headers: [["host", "h"], ["x-a", "1"]],
      });
      assert.equal(await filter.handle(ctx), "");
      assert.equal(await ctx.response!.text(), expected, getter);
    } finally {
      await filter.close?.();
    }
  }
});

Deno.test("WasmHost: host_req_set_path takes a decoded path, as Go's URL.Path, and escapes it", async () => {
  const { filter } = host(
    await build(answeringWith(
      `(import "easegress" "host_req_set_path" (func $set (param i32)))
  (import "easegress" "host_req_get_escaped_path" (func $get (result i32)))`,
      "(call $set (i32.const 48)) (local.set $s (call $get)) " +
        "(i32.store (local.get $s) (i32.sub (i32.load (local.get $s)) (i32.const 1))) (local.get $s)",
    )),
  );
  try {
    const ctx = contextFor({ path: "/" });
    assert.equal(await filter.handle(ctx), "");
    assert.equal(ctx.request.path, "/x%20y");
    assert.equal(await ctx.response!.text(), "/x%20y");
  } finally {
    await filter.close?.();
  }
});

Deno.test("WasmHost: host_req_set_path escapes a % of the decoded path, as Go's EscapedPath does", async () => {
  // "/100%/a%41?b#c" as Go's URL.Path: its % are characters, not escapes.
  const path = "/100%/a%41?b#c";
  const { filter } = host(
    await build(answeringWith(
      `(import "easegress" "host_req_set_path" (func $set (param i32)))
  (import "easegress" "host_req_get_path" (func $get (result i32)))
  (data (i32.const 512) "\\${
        (path.length + 1).toString(16).padStart(2, "0")
      }\\00\\00\\00${path}\\00")`,
      "(call $set (i32.const 512)) (local.set $s (call $get)) " +
        "(i32.store (local.get $s) (i32.sub (i32.load (local.get $s)) (i32.const 1))) (local.get $s)",
    )),
  );
  try {
    const ctx = contextFor({ path: "/" });
    assert.equal(await filter.handle(ctx), "");
    assert.equal(ctx.request.path, "/100%25/a%2541%3Fb%23c");
    assert.equal(await ctx.response!.text(), path, "host_req_get_path gives it back as set");
  } finally {
    await filter.close?.();
  }
});

Deno.test("WasmHost: a module importing WASI, as Easegress's Go SDK builds them, runs: its output is logged, proc_exit is a trap", async () => {
  const wasi = (name: string, params: string) =>
    `(import "wasi_snapshot_preview1" "${name}" (func $${name} (param ${params}) (result i32)))`;
  const imports = [
    wasi("fd_write", "i32 i32 i32 i32"),
    wasi("random_get", "i32 i32"),
    wasi("clock_time_get", "i32 i64 i32"),
    wasi("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    `(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))`,
  ].join("\n  ");
  // One iovec at 64 for "hello" (the string at 32), written to stdout; the count goes to 72.
  const writes =
    "(i32.store (i32.const 64) (i32.const 36)) (i32.store (i32.const 68) (i32.const 5)) " +
    "(drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72))) " +
    "(drop (call $random_get (i32.const 80) (i32.const 16))) " +
    "(drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 96))) " +
    "(i32.store (i32.const 100) (i32.const 0)) (i32.store (i32.const 104) (i32.const 4)) " +
    "(i32.const 100)";
  const { filter, lines } = host(await build(answeringWith(imports, writes)));
  try {
    const ctx = contextFor({ path: "/" });
    assert.equal(await filter.handle(ctx), "", lines.join("\n"));
    assert.ok(lines.some((l) => l.endsWith(": hello")), lines.join("\n"));
  } finally {
    await filter.close?.();
  }
  const exits = host(
    await build(answeringWith(imports, "(call $proc_exit (i32.const 3)) (i32.const 100)")),
  );
  try {
    assert.equal(await exits.filter.handle(contextFor({ path: "/" })), "wasmError");
    assert.ok(exits.lines.some((l) => l.includes("proc_exit 3")), exits.lines.join("\n"));
  } finally {
    await exits.filter.close?.();
  }
});

Deno.test("WasmHost: code that cannot be loaded is tried again until it loads", async () => {
  const module = Uint8Array.fromBase64(await build(GOOD));
  let up = false;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => up ? new Response(module) : new Response("not yet", { status: 404 }),
  );
  const retry = codeRetry.ms;
  codeRetry.ms = 100;
  const { filter, lines } = host(`http://127.0.0.1:${server.addr.port}/m.wasm`);
  try {
    await sleep(50);
    assert.match(status(filter).health, /answered 404/);
    up = true;
    await sleep(400);
    assert.equal((await call(filter)).result, "", lines.join("\n"));
    assert.equal(status(filter).health, "");
  } finally {
    codeRetry.ms = retry;
    await filter.close?.();
    await server.shutdown();
  }
});

Deno.test("WasmHost: code at a URL that cannot be reached says which and why", async () => {
  // A port nothing listens on any more.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}/m.wasm`;
  closed.close();
  const { filter } = host(url);
  try {
    await sleep(100);
    assert.match(status(filter).health, /^cannot fetch http:\S+\/m\.wasm: .*refused/);
  } finally {
    await filter.close?.();
  }
});
