/**
 * A node's life through the executable: what it says when its dirs cannot
 * be used, and how it stops.
 *
 * @module
 */

import * as assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Runs `easegress serve ...args` to its end; returns its exit code and output. */
async function serve(...args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "--unstable-no-legacy-abort", "-A", MAIN, "serve", ...args],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("a log file the node cannot open is named with --log-dir", async () => {
  const home = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    // A dir in the log file's place: refused whoever runs the node, root included.
    const cases = [
      ["stdout.log", "1"],
      ["admin_api.log", "1"],
      ["filter_http_access.log", "1"],
      // Opened by each worker isolate.
      ["filter_http_access.log", "2"],
    ];
    for (const [name, workers] of cases) {
      await Deno.remove(`${home}/log`, { recursive: true }).catch(() => {});
      await Deno.mkdir(`${home}/log/${name}`, { recursive: true });
      const run = await serve(
        "--api-addr",
        "127.0.0.1:27501",
        "--home-dir",
        home,
        "--workers",
        workers,
      );
      assert.equal(run.code, 1, run.text);
      assert.match(
        run.text,
        new RegExp(`--log-dir: cannot open the log file ${home}/log/${name}: `),
        `${name}, ${workers} workers`,
      );
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
