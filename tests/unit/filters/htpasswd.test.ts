import assert from "node:assert/strict";
import { HtpasswdFile, parseHtpasswd } from "../../../filters/htpasswd.ts";
import { testEnv } from "./_helpers.ts";

const ALICE = "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="; // password "password"
const BOB = "bob:$apr1$abcdefgh$GGOdvbUvGkCeXrV9v39gG/";
const BOB_PASSWORD = "pässwörd long enough to pass thirty two bytes!!";

Deno.test("parseHtpasswd reads user:hash lines and reports the others", () => {
  const problems: string[] = [];
  const users = parseHtpasswd(
    `# comment\n${ALICE}\r\n\nnocolon\ncarol:plaintext\n${BOB}\n`,
    (line, m) => {
      problems.push(`${line}: ${m}`);
    },
  );
  assert.deepEqual([...users.keys()], ["alice", "bob"]);
  assert.deepEqual(problems, [
    '4: not "user:hash"',
    '5: user "carol": unsupported or malformed password hash',
  ]);
});

Deno.test("HtpasswdFile verifies users and reloads when the file changes", async () => {
  const path = await Deno.makeTempFile();
  const env = testEnv();
  try {
    await Deno.writeTextFile(path, `${ALICE}\n`);
    const file = new HtpasswdFile(path, env.log);
    assert.equal(await file.verify("alice", "password"), true);
    assert.equal(await file.verify("alice", "wrong"), false);
    assert.equal(await file.verify("bob", BOB_PASSWORD), false);
    assert.equal(await file.reloadIfChanged(), false);

    await Deno.writeTextFile(path, `${BOB}\n`);
    assert.equal(await file.reloadIfChanged(), true);
    assert.equal(await file.verify("alice", "password"), false);
    assert.equal(await file.verify("bob", BOB_PASSWORD), true);
    assert.equal(await file.verify("bob", BOB_PASSWORD), true); // served by the cached proof
    assert.equal(await file.verify("bob", "wrong"), false);

    await Deno.remove(path);
    assert.equal(await file.reloadIfChanged(), false);
    assert.equal(file.size, 0);
    assert.equal(await file.verify("bob", BOB_PASSWORD), false);
    assert.ok(env.lines.some((l) => l.startsWith("error: cannot read htpasswd file")));
    await file.close();
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});

Deno.test("HtpasswdFile lets nobody in while its file is missing, then picks it up", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/.htpasswd`;
  const env = testEnv();
  try {
    const file = new HtpasswdFile(path, env.log);
    assert.equal(file.size, 0);
    assert.match(env.lines[0], /^error: cannot read htpasswd file/);
    await Deno.writeTextFile(path, ALICE);
    assert.equal(await file.reloadIfChanged(), true);
    assert.equal(await file.verify("alice", "password"), true);
    file.watch(60_000);
    await file.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
