import assert from "node:assert/strict";
import {
  type HeaderSpan,
  newHeader,
  newHeaderSpan,
  readAnyHeader,
  readHeader,
  readHeaderBytes,
  readHeaderSpan,
} from "./line_header.ts";

function header(line: string) {
  const h = newHeader();
  return readHeader(line, 0, line.length, h) ? { ...h } : undefined;
}

Deno.test("a record header gives its seq, time and type without the line being parsed", () => {
  const ts = "2026-11-24T10:00:01.250Z";
  assert.deepEqual(header(`{"schema_version":1,"seq":42,"ts":"${ts}","type":"message","x":[`), {
    seq: 42,
    ts: Date.parse(ts),
    type: "message",
  });
  // Lines of the same second share its work; the next second is read in full.
  assert.equal(
    header(`{"schema_version":1,"seq":43,"ts":"2026-11-24T10:00:01.999Z","type":"e"}`)?.ts,
    Date.parse("2026-11-24T10:00:01.999Z"),
  );
  assert.equal(
    header(`{"schema_version":1,"seq":44,"ts":"2026-11-24T10:00:02.000Z","type":"e"}`)?.ts,
    Date.parse("2026-11-24T10:00:02.000Z"),
  );
  // Another form of ISO time, and a two-digit schema version, still read.
  assert.equal(
    header(`{"schema_version":12,"seq":1,"ts":"2026-11-24T11:00:00+01:00","type":"e"}`)?.ts,
    Date.parse("2026-11-24T10:00:00Z"),
  );
});

Deno.test("a line that does not start with the header is not read as one", () => {
  for (
    const line of [
      "garbage",
      `{"seq":1,"schema_version":1,"ts":"2026-11-24T10:00:00.000Z","type":"e"}`,
      `{"schema_version":1,"seq":,"ts":"2026-11-24T10:00:00.000Z","type":"e"}`,
      `{"schema_version":1,"seq":1,"ts":"yesterday","type":"e"}`,
      `{"schema_version":1,"seq":1,"ts":"2026-11-24T10:00:00.000Z","type":"${"e".repeat(300)}"}`,
      `{"schema_version":1${",".repeat(500)}`,
    ]
  ) {
    assert.equal(header(line), undefined, line.slice(0, 60));
  }
});

Deno.test("a header is read from bytes, within the line only", () => {
  const bytes = new TextEncoder().encode(
    `{"schema_version":1,"seq":7,"ts":"2026-11-24T10:00:00.000Z","type":"error"}\nnext`,
  );
  const h = newHeader();
  assert.ok(readHeaderBytes(bytes, 0, bytes.indexOf(10), h));
  assert.deepEqual({ ...h }, { seq: 7, ts: Date.parse("2026-11-24T10:00:00.000Z"), type: "error" });
  assert.equal(readHeaderBytes(bytes, 0, 30, newHeader()), false, "cut before its type");
});

Deno.test("a header's type can be left in place, in the text it was read from", () => {
  const text =
    `x\n{"schema_version":1,"seq":9,"ts":"2026-11-24T10:00:03.000Z","type":"queue_sample"}`;
  const h = newHeaderSpan();
  assert.ok(readHeaderSpan(text, 2, text.length, h));
  assert.equal(h.seq, 9);
  assert.equal(h.ts, Date.parse("2026-11-24T10:00:03.000Z"));
  assert.equal(text.slice(h.typeFrom, h.typeTo), "queue_sample");
});

Deno.test("a header as the observer writes it is read as any header is, whatever is changed in it", () => {
  const bases = [
    `{"schema_version":1,"seq":7,"ts":"2026-11-24T10:00:00.125Z","type":"handoff_completed","x":1}`,
    `{"schema_version":1,"seq":123456789012345,"ts":"2026-02-28T23:59:59.999Z","type":"e"}`,
    `{"schema_version":1,"seq":1234567890123456,"ts":"2026-11-24T10:00:00.000Z","type":"e"}`,
    `{"schema_version":12,"seq":3,"ts":"2026-11-24T10:00:00.000Z","type":"error"}`,
    `{"schema_version":1,"seq":3,"ts":"2026-11-24T11:00:00+01:00","type":"error"}`,
    `{"schema_version":1,"seq":3,"ts":"2026-13-24T10:00:00.000Z","type":"error"}`,
  ];
  const edits = ["", '"', ",", "0", "9", "x", ".", "\n", "\u00e9"];
  const read = (f: typeof readAnyHeader, line: string) => {
    const h: HeaderSpan = newHeaderSpan();
    return f(line, 0, line.length, h) ? { ...h } : undefined;
  };
  let lines = 0;
  for (const base of bases) {
    for (let at = 0; at < 80; at++) {
      for (const edit of edits) {
        for (
          const line of [
            base.slice(0, at) + edit + base.slice(at + 1),
            base.slice(0, at) + edit + base.slice(at),
          ]
        ) {
          // A line in a text, as a read sees it: after another line, before the next.
          const text = `{"a":1}\n${line}\n{"b":2}`;
          const from = 8;
          const to = from + line.length;
          const fast = newHeaderSpan();
          const slow = newHeaderSpan();
          const a = readHeaderSpan(text, from, to, fast);
          const b = readAnyHeader(text, from, to, slow);
          assert.equal(a, b, line);
          if (a) assert.deepEqual(fast, slow, line);
          lines++;
        }
      }
    }
  }
  assert.ok(lines > 8000);
  assert.deepEqual(read(readHeaderSpan, bases[0]!), read(readAnyHeader, bases[0]!));
});
