/** The access log's batched line writer. */

import assert from "node:assert/strict";
import { BufferedLineWriter } from "../../../server/buffered_line_writer.ts";
import { durationString } from "../../../filters/template/goduration.ts";

/** Runs `body` with a writer on a fresh temporary file and a way to read what reached the file. */
async function withTempWriter(
  body: (writer: BufferedLineWriter, written: () => Promise<string>) => Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile();
  const writer = new BufferedLineWriter(await Deno.open(path, { append: true }));
  try {
    await body(writer, () => Deno.readTextFile(path));
  } finally {
    writer.close();
    await Deno.remove(path);
  }
}

Deno.test("BufferedLineWriter writes pieces, integers and Go durations as the strings would read", async () => {
  await withTempWriter(async (writer, written) => {
    writer.text("[").int(0).text(" ").int(404).text(" ").int(1234567890123).text("]").endLine();
    for (const ms of [0, 0.0004, 0.0005001, 0.1234, 1, 12.3456, 999.9999, 1000.5, 86_400_000.25]) {
      writer.duration(ms).endLine();
    }
    writer.push("a whole line");
    writer.flush();
    assert.equal(
      await written(),
      "[0 404 1234567890123]\n0s\n0s\n1µs\n123µs\n1ms\n12.346ms\n1s\n1.0005s\n" +
        "24h0m0.00025s\na whole line\n",
    );
  });
});

Deno.test("BufferedLineWriter agrees with Go's Duration.String on many durations", async () => {
  await withTempWriter(async (writer, written) => {
    const expected: string[] = [];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const ms = (seed / 2147483648) * 10 ** (i % 7);
      writer.duration(ms).endLine();
      expected.push(durationString(BigInt(Math.round(ms * 1000)) * 1000n));
    }
    writer.flush();
    assert.deepEqual((await written()).split("\n").slice(0, -1), expected);
  });
});

Deno.test("BufferedLineWriter encodes chars beyond ASCII as UTF-8", async () => {
  await withTempWriter(async (writer, written) => {
    writer.text("GET /caf\u00e9 ").text("\u00e9t\u00e9").text(" \u{1F600}!").endLine();
    writer.flush();
    assert.equal(await written(), "GET /caf\u00e9 \u00e9t\u00e9 \u{1F600}!\n");
  });
});

Deno.test("BufferedLineWriter writes only whole lines, and lines longer than a batch whole", async () => {
  await withTempWriter(async (writer, written) => {
    writer.text("started");
    writer.flush();
    assert.equal(await written(), "", "a line being built stays back");
    writer.text(" and ended").endLine();
    // Enough lines to fill several batches; one of them longer than a batch.
    const long = "x".repeat(200_000);
    const lines = ["started and ended"];
    for (let i = 0; i < 5000; i++) {
      const line = i === 2500 ? long : `line ${i} ${"y".repeat(i % 50)}`;
      writer.push(line);
      lines.push(line);
    }
    const before = await written();
    assert.ok(before.length > 0, "full batches are written without waiting");
    assert.ok(before.endsWith("\n"), "only whole lines reach the file");
    writer.text("half");
    writer.flush();
    writer.text(" done").endLine();
    lines.push("half done");
    writer.flush();
    assert.deepEqual((await written()).split("\n"), [...lines, ""]);
  });
});

Deno.test("BufferedLineWriter writes gathered lines after a short wait", async () => {
  await withTempWriter(async (writer, written) => {
    writer.push("soon");
    assert.equal(await written(), "");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(await written(), "soon\n");
  });
});

Deno.test("BufferedLineWriter escapedText keeps a line one line, escaping control characters as Go's Quote", async () => {
  await withTempWriter(async (writer, written) => {
    writer.text("[").escapedText('bad: "{\n\r\t\x00\x1f\x7f é ✓"').text("]").endLine();
    writer.escapedText("plain text").endLine();
    writer.flush();
    assert.equal(
      await written(),
      '[bad: "{\\n\\r\\t\\x00\\x1f\\x7f é ✓"]\nplain text\n',
    );
  });
});
