import assert from "node:assert/strict";
import { AdminApiError, AdminClient, normalizeServer } from "../../../cli/client.ts";
import { CtlError, UsageError } from "../../../cli/errors.ts";
import { fakeAdmin } from "./fake_admin.ts";
import { REFUSING_PORT } from "../../fixtures/refusing_port.ts";

Deno.test("normalizeServer() turns host:port into an origin", () => {
  assert.equal(normalizeServer("localhost:2381"), "http://localhost:2381");
  assert.equal(normalizeServer(" http://10.0.0.1:2381/ "), "http://10.0.0.1:2381");
  assert.equal(normalizeServer("HTTPS://Eg.Example:443"), "https://eg.example");
  assert.equal(normalizeServer("[::1]:2381"), "http://[::1]:2381");
});

Deno.test("normalizeServer() rejects what is not an http(s) host:port", () => {
  for (const bad of ["", "ftp://h:1", "h:1/apis/v1", "h:1?x=1", "user:pw@h:1", "h:99999"]) {
    assert.throws(() => normalizeServer(bad), UsageError, bad);
  }
});

Deno.test("normalizeServer() takes the scheme given for a bare host:port, and names the value as given", () => {
  assert.equal(normalizeServer("localhost:2381", "https"), "https://localhost:2381");
  assert.equal(normalizeServer("http://localhost:2381", "https"), "http://localhost:2381");
  // Not 'server "https://" is not a valid HOST:PORT address'.
  assert.throws(() => normalizeServer(" ", "https"), UsageError, "--server must not be empty");
  assert.throws(
    () => normalizeServer("h:1/apis/v2", "https", "~/.egctlrc: server"),
    UsageError,
    '~/.egctlrc: server "h:1/apis/v2" must be only a HOST:PORT address',
  );
});

Deno.test("AdminClient.send() returns non-2xx replies; call() throws them", async () => {
  const admin = fakeAdmin({ "GET /objects": { status: 200, body: "[]\n" } });
  const client = new AdminClient("http://h:1", { fetch: admin.fetch });
  assert.equal((await client.send({ method: "GET", path: "/objects/x" })).status, 404);
  assert.equal((await client.call({ method: "GET", path: "/objects" })).body, "[]\n");
  await assert.rejects(
    client.call({ method: "GET", path: "/objects/x" }),
    (error: unknown) =>
      error instanceof AdminApiError && error.status === 404 && error.code === 404 &&
      error.message === "404: not found",
  );
});

Deno.test("AdminClient sends JSON bodies and asks for JSON in json format", async () => {
  const admin = fakeAdmin({ "POST /objects": { status: 201 } });
  const client = new AdminClient("http://h:1", { fetch: admin.fetch, format: "json" });
  await client.call({ method: "POST", path: "/objects", json: { name: "a", kind: "Pipeline" } });
  const [call] = admin.calls;
  assert.equal(call.url, "http://h:1/apis/v2/objects");
  assert.equal(call.headers.get("accept"), "application/json");
  assert.equal(call.headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(call.body), { name: "a", kind: "Pipeline" });
});

Deno.test("AdminApiError uses the error body, then the status text, then the body text", () => {
  const reply = (status: number, statusText: string, body: string) => ({
    status,
    statusText,
    body,
  });
  assert.equal(
    new AdminApiError(reply(400, "Bad Request", "code: 400\nmessage: 'filters[0].kind: unknown'\n"))
      .message,
    "400: filters[0].kind: unknown",
  );
  assert.equal(new AdminApiError(reply(502, "Bad Gateway", "")).message, "502: Bad Gateway");
  assert.equal(
    new AdminApiError(reply(404, "", "404 page not found\n")).message,
    "404: 404 page not found",
  );
  assert.equal(new AdminApiError(reply(500, "", "")).message, "500: request failed");
});

Deno.test("AdminClient reports a refused connection with the address", async () => {
  const port = REFUSING_PORT;
  const client = new AdminClient(`http://127.0.0.1:${port}`);
  await assert.rejects(
    client.send({ method: "GET", path: "/healthz" }),
    (error: unknown) =>
      error instanceof CtlError &&
      error.message.startsWith(`cannot reach the admin API at http://127.0.0.1:${port}: `) &&
      /refused/i.test(error.message),
  );
});
