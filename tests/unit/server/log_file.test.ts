import assert from "node:assert/strict";
import { openLogFile, PathFollowingLogFile } from "../../../server/log.ts";

const encoder = new TextEncoder();

async function withLogDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "eg-test-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a log file renamed away (logrotate) is reopened at its path within a second", async () => {
  await withLogDir(async (dir) => {
    const path = `${dir}/stdout.log`;
    let now = 0;
    const log = new PathFollowingLogFile(
      path,
      await Deno.open(path, { append: true, create: true }),
      () => now,
    );
    try {
      log.writeSync(encoder.encode("one\n"));
      await Deno.rename(path, `${path}.1`);
      // Checked once a second: until then the renamed file takes the lines.
      now = 999;
      log.writeSync(encoder.encode("two\n"));
      now = 1_000;
      log.writeSync(encoder.encode("three\n"));
      assert.equal(await Deno.readTextFile(`${path}.1`), "one\ntwo\n");
      assert.equal(await Deno.readTextFile(path), "three\n");
      // logrotate's create: a new empty file put in its place is the one written.
      await Deno.rename(path, `${path}.2`);
      await Deno.writeTextFile(path, "");
      now = 2_000;
      log.writeSync(encoder.encode("four\n"));
      assert.equal(await Deno.readTextFile(path), "four\n");
      assert.equal(await Deno.readTextFile(`${path}.2`), "three\n");
      // Removed: made again. Left in place (copytruncate): kept.
      await Deno.remove(path);
      now = 3_000;
      log.writeSync(encoder.encode("five\n"));
      now = 4_000;
      log.writeSync(encoder.encode("six\n"));
      assert.equal(await Deno.readTextFile(path), "five\nsix\n");
    } finally {
      log.close();
    }
  });
});

Deno.test("openLogFile names --log-dir and the file it cannot open", async () => {
  await withLogDir(async (dir) => {
    await Deno.mkdir(`${dir}/stdout.log`);
    await assert.rejects(
      openLogFile(dir, "stdout.log"),
      new RegExp(`^Error: --log-dir: cannot open the log file ${dir}/stdout.log: `),
    );
  });
});
