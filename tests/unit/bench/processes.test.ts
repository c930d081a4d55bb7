import assert from "node:assert/strict";
import { endedBy, isRunning, logTail, ProcessGroup } from "../../../bench/lib/processes.ts";
import { processTree } from "../../../bench/lib/proc_stats.ts";

Deno.test("stopAll stops a process and the children it started", async () => {
  const dir = await Deno.makeTempDir();
  const group = new ProcessGroup();
  // A parent that leaves a child behind, like an nginx master and its worker.
  const owned = group.spawnLogged(
    "parent",
    ["sh", "-c", "sleep 30 & echo started; wait"],
    `${dir}/parent.log`,
  );
  let tree: number[] = [];
  for (let i = 0; i < 100 && tree.length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    tree = processTree(owned.pid);
  }
  assert.equal(tree.length, 2);
  await group.stopAll();
  assert.ok(owned.exited);
  assert.ok(!tree.some(isRunning), "every process of the tree is gone");
  assert.equal(logTail(owned.logFile), "started");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("stop kills a process that ignores SIGTERM after the grace period", async () => {
  const group = new ProcessGroup();
  const owned = group.spawnPiped("stubborn", ["sh", "-c", "trap '' TERM; echo ready; sleep 30"]);
  const reader = owned.child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  await owned.child.stdout.cancel();
  await owned.child.stdin.close();
  await group.stop(owned, 100);
  assert.ok(owned.exited);
  assert.equal((await owned.child.status).signal, "SIGKILL");
});

Deno.test("run returns stdout and names the program that failed", async () => {
  const group = new ProcessGroup();
  assert.equal(await group.run("echo", ["echo", "hi"]), "hi\n");
  await assert.rejects(
    group.run("false", ["sh", "-c", "echo oops >&2; exit 3"]),
    /false exited with 3: oops/,
  );
});

Deno.test("nothing starts once the group is stopping", async () => {
  const group = new ProcessGroup();
  await group.stopAll();
  await assert.rejects(group.run("echo", ["echo", "hi"]), /not starting echo: stopping/);
});

Deno.test("a process's end is kept and said: its exit code or the signal that ended it", async () => {
  const group = new ProcessGroup();
  const exiting = group.spawnPiped("exits", ["sh", "-c", "exit 3"]);
  await exiting.child.status;
  await Promise.resolve();
  assert.equal(endedBy(exiting.status), "exit code 3");
  const killed = group.spawnPiped("killed", ["sleep", "30"]);
  killed.child.kill("SIGKILL");
  await killed.child.status;
  await Promise.resolve();
  assert.equal(endedBy(killed.status), "signal SIGKILL");
  assert.equal(endedBy(undefined), "unknown");
  await group.stopAll();
});

Deno.test("stop ends a stopped process with SIGTERM, without waiting for the grace period", async () => {
  const group = new ProcessGroup();
  const sleeper = group.spawnLogged("sleeper", ["sleep", "30"], await Deno.makeTempFile());
  Deno.kill(sleeper.pid, "SIGSTOP");
  const started = Date.now();
  await group.stop(sleeper, 10_000);
  assert.ok(Date.now() - started < 5_000, "ended by SIGTERM, not by the SIGKILL after 10 s");
  assert.equal(endedBy(sleeper.status), "signal SIGTERM");
});
