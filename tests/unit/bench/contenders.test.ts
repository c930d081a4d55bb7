import assert from "node:assert/strict";
import { privateRuntimeCopy } from "../../../bench/lib/contenders.ts";

Deno.test("privateRuntimeCopy: a runnable copy of the runtime in a file of its own", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const copy = privateRuntimeCopy(dir);
    const original = Deno.statSync(Deno.execPath());
    const copied = Deno.statSync(copy);
    assert.equal(copied.size, original.size);
    // Another inode: the kernel keeps its pages apart from the original's.
    assert.notEqual(copied.ino, original.ino);
    const { code, stdout } = await new Deno.Command(copy, { args: ["--version"] }).output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), new RegExp(`^deno ${Deno.version.deno}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
