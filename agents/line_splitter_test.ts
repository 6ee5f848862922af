import assert from "node:assert/strict";
import {
  fileChunks,
  fileChunksSync,
  fileLines,
  type LineSplit,
  splitLines,
  textLines,
} from "./line_splitter.ts";

const encoder = new TextEncoder();

/** The text cut into chunks at these byte offsets */
async function* chunksAt(text: string, cuts: number[]): AsyncGenerator<Uint8Array> {
  const bytes = encoder.encode(text);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
}

/** Every cut of the text into two chunks, and into one chunk a byte */
function cuttings(text: string): number[][] {
  const n = encoder.encode(text).length;
  return [
    [],
    ...Array.from({ length: n + 1 }, (_, i) => [i]),
    Array.from({ length: n }, (_, i) => i),
  ];
}

/** What a split says, one entry a line or line passed over: `text@offset` or `kind@offset+length` */
async function described(splits: AsyncIterable<LineSplit>): Promise<string[]> {
  const out: string[] = [];
  for await (const split of splits) {
    if (split.kind !== "lines") {
      out.push(`${split.kind}@${split.offset}+${split.length}`);
      continue;
    }
    for (let i = 0; i < split.count; i++) {
      out.push(`${split.line(i)}@${split.offset + (split.starts[i] ?? 0)}`);
    }
  }
  return out;
}

Deno.test("lines come whole and at their byte offsets wherever the chunks are cut", async () => {
  const text = '{"a":1}\n{"b":22}\n\n{"c":333}\n';
  for (const cuts of cuttings(text)) {
    assert.deepEqual(
      await described(splitLines(chunksAt(text, cuts))),
      ['{"a":1}@0', '{"b":22}@8', "@17", '{"c":333}@18'],
      `cut at ${cuts}`,
    );
  }
});

Deno.test("a UTF-8 character cut between chunks is decoded whole, and offsets count bytes", async () => {
  const text = 'é\n{"name":"日本"}\n🦕x\n';
  for (const cuts of cuttings(text)) {
    assert.deepEqual(
      await described(splitLines(chunksAt(text, cuts))),
      ["é@0", '{"name":"日本"}@3', "🦕x@21"],
      `cut at ${cuts}`,
    );
  }
});

Deno.test("a chunk holding an invalid UTF-8 byte is not taken for ASCII text", async () => {
  // 0xff decodes to one U+FFFD, as long as the byte: the chunk is not ASCII all the same
  const bytes = encoder.encode('{"a":"coder"}\n');
  bytes[8] = 0xff;
  for await (const split of splitLines([bytes])) {
    assert.equal(split.kind, "lines");
    if (split.kind === "lines") assert.equal(split.text, undefined, "no text: its bytes are read");
  }
});

Deno.test("the bytes after the last newline are a last line, or torn when so asked", async () => {
  for (const cuts of cuttings("a\nbc")) {
    assert.deepEqual(await described(splitLines(chunksAt("a\nbc", cuts))), ["a@0", "bc@2"]);
    assert.deepEqual(
      await described(splitLines(chunksAt("a\nbc", cuts), { unterminated: "torn" })),
      ["a@0", "torn@2+2"],
    );
  }
  assert.deepEqual(await described(splitLines(chunksAt("", []))), []);
  assert.deepEqual(await described(splitLines(chunksAt("\n", []))), ["@0"]);
});

Deno.test("a line longer than maxLine is passed over with its place, never held", async () => {
  const text = "ab\nlong line\ncd\nlong again";
  for (const cuts of cuttings(text)) {
    assert.deepEqual(
      await described(splitLines(chunksAt(text, cuts), { maxLine: 4, offset: 100 })),
      ["ab@100", "long@103+9", "cd@113", "torn@116+10"],
      `cut at ${cuts}`,
    );
  }
  // A line of exactly maxLine bytes is a line
  assert.deepEqual(await described(splitLines(chunksAt("abcd\n", [2]), { maxLine: 4 })), [
    "abcd@0",
  ]);
});

Deno.test("textLines gives the lines as strings, and tells of those passed over", async () => {
  const passed: string[] = [];
  const lines: string[] = [];
  const onPassed = (p: { kind: string; offset: number }) => passed.push(`${p.kind}@${p.offset}`);
  for await (
    const line of textLines(chunksAt("x\r\n\nyyyyy\nz", [1, 4]), {
      maxLine: 3,
      unterminated: "torn",
      onPassed,
    })
  ) lines.push(line);
  assert.deepEqual(lines, ["x\r", ""]);
  assert.deepEqual(passed, ["long@4", "torn@10"]);
});

Deno.test("a file is read in chunks, from and up to a byte", async () => {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "skip\none\ntwo\nthree\nfour");
  for (const read of [fileChunks, fileChunksSync]) {
    using file = await Deno.open(path);
    const lines = [];
    for await (
      const line of textLines(read(file, { from: 5, to: 19, size: 3 }), { offset: 5 })
    ) lines.push(line);
    assert.deepEqual(lines, ["one", "two", "three"], read.name);
  }
  await Deno.remove(path);
});

Deno.test("a file's lines are read as strings, and a missing file has none", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/f.jsonl`, "one\n\ntwo\nthr");
  const torn: number[] = [];
  const lines = [];
  for await (
    const line of fileLines(`${dir}/f.jsonl`, {
      unterminated: "torn",
      onPassed: (p) => torn.push(p.offset),
    })
  ) lines.push(line);
  assert.deepEqual(lines, ["one", "", "two"]);
  assert.deepEqual(torn, [9]);
  for await (const line of fileLines(`${dir}/missing.jsonl`)) assert.fail(line);
  await Deno.remove(dir, { recursive: true });
});
