import assert from "node:assert/strict";
import { Context, HttpRequest, HttpResponse } from "../../../filters/context.ts";
import { HeaderFields } from "../../../filters/header_fields.ts";
import { contextJson } from "../../../filters/remote_filter.ts";

Deno.test("RemoteFilter sends request headers as Go's http.Header: Host apart, repeats as values", () => {
  const headers = new HeaderFields();
  headers.append("host", "gw:8080");
  headers.append("x-m", "1");
  headers.append("x-m", "2");
  const ctx = new Context(
    new HttpRequest({ method: "POST", path: "/p", host: "gw:8080", headers }),
  );
  const sent = JSON.parse(
    contextJson(ctx, new HttpResponse(200), new Uint8Array([104, 105]), null),
  );
  assert.equal(sent.request.host, "gw:8080");
  assert.deepEqual(sent.request.header, { "X-M": ["1", "2"] });
  assert.equal(sent.request.body, "aGk=");
  assert.deepEqual(sent.response, { statusCode: 200, header: {}, body: null });
});
