import assert from "node:assert/strict";
import { renderBody } from "../../../cli/output.ts";

Deno.test("renderBody() prints YAML as received, ending in a newline", () => {
  assert.equal(renderBody("name: a\nkind: Pipeline\n", "yaml"), "name: a\nkind: Pipeline\n");
  assert.equal(renderBody("- a", "yaml"), "- a\n");
  assert.equal(renderBody("", "yaml"), "");
  assert.equal(renderBody("", "json"), "");
});

Deno.test("renderBody() pretty-prints JSON and converts YAML for json", () => {
  assert.equal(renderBody('{"a":[1]}', "json"), '{\n  "a": [\n    1\n  ]\n}\n');
  assert.equal(renderBody("a: 1\nb: [x]\n", "json"), '{\n  "a": 1,\n  "b": [\n    "x"\n  ]\n}\n');
});

Deno.test("renderBody() prints a body that is neither JSON nor YAML as received", () => {
  assert.equal(renderBody("a: b: c", "json"), "a: b: c\n");
});

Deno.test("renderBody() makes a prose body one JSON string for json", () => {
  // Read as YAML, a sentence with a colon would become a map.
  const text = "RequestAdaptor adapts the request: method, path, headers, body.";
  assert.equal(renderBody(text, "json", true), `${JSON.stringify(text)}\n`);
  assert.equal(renderBody(text, "yaml", true), `${text}\n`);
});
