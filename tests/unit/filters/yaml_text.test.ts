import assert from "node:assert/strict";
import { parse } from "yaml";
import { isYaml11NonString, toYamlText } from "../../../filters/yaml_text.ts";

Deno.test("toYamlText() quotes strings YAML 1.1 reads as booleans, nulls, numbers, dates", async () => {
  const strings = [
    "on",
    "Off",
    "yes",
    "y",
    "N",
    "~",
    "1_000",
    "0755",
    "0b101",
    "1:20",
    "2026-01-01",
  ];
  const text = await toYamlText({
    headers: Object.fromEntries(strings.map((s, i) => [`h${i}`, s])),
  });
  for (const s of strings) assert.ok(text.includes(`: "${s}"\n`), `${s} in\n${text}`);
  // Read back by a YAML 1.1 reader, every value is still the string it was.
  const back = parse(text, { version: "1.1" }) as { headers: Record<string, unknown> };
  assert.deepEqual(Object.values(back.headers), strings);
});

Deno.test("toYamlText() leaves other strings and non-strings as YAML 1.2 has them", async () => {
  const value = {
    name: "server-demo",
    path: "/pipeline",
    version: "v1.2",
    port: 10080,
    ratio: 0.5,
    keepAlive: true,
    cert: null,
    "200": 3,
    list: ["a b", "on"],
  };
  const text = await toYamlText(value);
  assert.match(text, /^name: server-demo$/m);
  assert.match(text, /^path: \/pipeline$/m);
  assert.match(text, /^port: 10080$/m);
  assert.match(text, /^keepAlive: true$/m);
  assert.match(text, /^ {2}- "on"$/m);
  assert.deepEqual(parse(text), value);
  assert.deepEqual(parse(text, { version: "1.1" }), value);
});

Deno.test("isYaml11NonString() follows the YAML 1.1 type regexps", () => {
  for (
    const s of ["true", "NO", "null", "-12", "+0x1F", "1.5", ".5", "1.5e+3", ".inf", ".NaN", "<<"]
  ) {
    assert.ok(isYaml11NonString(s), s);
  }
  for (
    const s of ["", "hello", "yes please", "0o17x", "v1", "1e3", "a:b", "2026-1", "127.0.0.1", ".."]
  ) {
    assert.ok(!isYaml11NonString(s), s);
  }
});
