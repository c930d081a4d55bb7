import assert from "node:assert/strict";
import type { Contender } from "../../../bench/lib/contenders.ts";
import { Turns } from "../../../bench/lib/turns.ts";

function contender(name: string, pids: number[], process: object = {}): Contender {
  return { name, port: 0, process, pids } as unknown as Contender;
}

Deno.test("Turns stops every contender but the one whose turn it is, and resumes them all at the end", () => {
  const sent: string[] = [];
  const node = contender("node", [10]);
  const nginx = contender("nginx", [20, 21]);
  const turns = new Turns([node, nginx], (pid, signal) => sent.push(`${signal} ${pid}`));
  turns.give(node);
  assert.deepEqual(sent, ["SIGSTOP 20", "SIGSTOP 21"]);
  sent.length = 0;
  turns.give(node);
  assert.deepEqual(sent, [], "nothing to change for the same turn again");
  turns.give(nginx);
  assert.deepEqual(sent, ["SIGSTOP 10", "SIGCONT 20", "SIGCONT 21"]);
  sent.length = 0;
  turns.end();
  assert.deepEqual(sent, ["SIGCONT 10"]);
  sent.length = 0;
  turns.end();
  assert.deepEqual(sent, [], "each stopped process is resumed once");
});

Deno.test("Turns runs views of one process together", () => {
  const sent: string[] = [];
  const shared = {};
  const plain = contender("node proxy", [10], shared);
  const full = contender("node validator+adaptor+proxy", [10], shared);
  const turns = new Turns([plain, full], (pid, signal) => sent.push(`${signal} ${pid}`));
  turns.give(plain);
  turns.give(full);
  turns.end();
  assert.deepEqual(sent, []);
});

Deno.test("Turns stops and resumes a real process", async () => {
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const sleeper = contender("sleeper", [child.pid]);
    // A process that has gone: signalling it is not an error.
    const other = contender("other", [2 ** 22 + 1]);
    const turns = new Turns([sleeper, other]);
    // Signals arrive a moment after they are sent: wait for the state.
    const stopped = async (want: boolean) => {
      for (let i = 0; i < 100; i++) {
        const state = Deno.readTextFileSync(`/proc/${child.pid}/stat`).split(") ")[1][0];
        if ((state === "T") === want) return true;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return false;
    };
    turns.give(other);
    assert.ok(await stopped(true), "stopped while another has its turn");
    turns.give(sleeper);
    assert.ok(await stopped(false), "running in its turn");
    turns.give(other);
    assert.ok(await stopped(true));
    turns.end();
    assert.ok(await stopped(false), "running again at the end");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});
