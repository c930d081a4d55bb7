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
