import assert from "node:assert/strict";
import { hashScheme, shaCrypt, verifyPassword } from "../../../filters/password_hash.ts";

// Made with `openssl passwd` (apr1, 1, 5, 6), OpenBSD's bcrypt test vector, and Python's hashlib.
const PASSWORD = "pässwörd long enough to pass thirty two bytes!!";
const VECTORS: [string, string, string][] = [
  ["apr1", PASSWORD, "$apr1$abcdefgh$GGOdvbUvGkCeXrV9v39gG/"],
  ["md5-crypt", PASSWORD, "$1$xy12$JtuVcV.252V9thSb7AS6z1"],
  ["sha256-crypt", PASSWORD, "$5$saltstring$DCAdVQIM6JpqYb/plXrhpVeuXzeDqdGRrbOljVvreX5"],
  [
    "sha512-crypt",
    PASSWORD,
    "$6$saltstringsaltst$LxddJ3EUvBekHswD8ucH15q0uJwsR8496iwNFvBIk3dsP0P2nldyZYU.m/Pd3c6B7QTqFAXlv.uNYGk7lnTDp1",
  ],
  ["bcrypt", "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["sha1", "password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="],
  ["ssha", "password", "{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"],
];

for (const [scheme, password, hash] of VECTORS) {
  Deno.test(`verifyPassword accepts the right password for ${scheme} and no other`, async () => {
    assert.equal(hashScheme(hash), scheme);
    assert.equal(await verifyPassword(password, hash), true);
    assert.equal(await verifyPassword(`${password}x`, hash), false);
    assert.equal(await verifyPassword("", hash), false);
  });
}

Deno.test("shaCrypt matches Drepper's reference vectors with custom rounds", () => {
  assert.equal(
    shaCrypt("Hello world!", "$5$", "rounds=10000$saltstringsaltstring"),
    "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
  );
  assert.equal(
    shaCrypt("Hello world!", "$6$", "rounds=10000$saltstringsaltstring"),
    "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
  );
});

Deno.test("verifyPassword refuses plain-text, DES and malformed hashes", async () => {
  assert.equal(hashScheme("secret"), undefined);
  assert.equal(await verifyPassword("secret", "secret"), false);
  assert.equal(await verifyPassword("x", "abJnggxhB/yWI"), false);
  assert.equal(await verifyPassword("x", "$2y$10$short"), false);
  assert.equal(await verifyPassword("x", "{SSHA}!!"), false);
});
