import assert from "node:assert/strict";
import { writePidFile } from "../../../server/home_files.ts";

Deno.test("writePidFile() writes the pid and removes the file it wrote", async () => {
  const home = await Deno.makeTempDir();
  try {
    const remove = await writePidFile(home);
    assert.equal(await Deno.readTextFile(`${home}/easegress.pid`), `${Deno.pid}\n`);
    await remove();
    await assert.rejects(() => Deno.stat(`${home}/easegress.pid`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("writePidFile() names the pid file and --home-dir when it cannot write", async () => {
  const home = await Deno.makeTempDir();
  try {
    // A dir in its place: not writable as a file, even by root.
    await Deno.mkdir(`${home}/easegress.pid`);
    await assert.rejects(
      () => writePidFile(home),
      /^Error: --home-dir: cannot write the pid file .*\/easegress\.pid: /,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("writePidFile() refuses a home dir whose pid file names a node still running", async () => {
  const home = await Deno.makeTempDir();
  // A process with "serve" among its arguments, as `easegress serve` has.
  const node = new Deno.Command("sh", { args: ["-c", "sleep 30", "serve"] }).spawn();
  const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await Deno.writeTextFile(`${home}/easegress.pid`, `${node.pid}\n`);
    await assert.rejects(
      () => writePidFile(home),
      (e: Error) =>
        e.message ===
          `--home-dir: ${home} is in use by another node, pid ${node.pid} (in ${home}/` +
            "easegress.pid); give each node a home dir of its own",
    );
    assert.equal(await Deno.readTextFile(`${home}/easegress.pid`), `${node.pid}\n`);
    // Left by a node that was killed: its pid now another program's, or no one's.
    for (const stale of [other.pid, 2 ** 22 + 1]) {
      await Deno.writeTextFile(`${home}/easegress.pid`, `${stale}\n`);
      const remove = await writePidFile(home);
      assert.equal(await Deno.readTextFile(`${home}/easegress.pid`), `${Deno.pid}\n`);
      await remove();
    }
  } finally {
    node.kill("SIGKILL");
    other.kill("SIGKILL");
    await node.status;
    await other.status;
    await Deno.remove(home, { recursive: true });
  }
});
