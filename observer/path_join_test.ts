import assert from "node:assert/strict";
import { posix } from "node:path";
import { joinPath } from "./path_join.ts";

Deno.test("paths are joined as node:path joins them", () => {
  const dirs = [
    "",
    ".",
    "..",
    "/",
    "//",
    "///",
    "a",
    "a/",
    "a//",
    "a//b",
    "./a",
    "../a",
    "a/./b",
    "a/../b",
    "a/../../b",
    "/a/../..",
    "/..",
    "/../a",
    "a/b/..",
    "a/b/../",
    ".a",
    "..a",
    "a..",
    "a/.../b",
    "./",
    "../",
    "/./",
    "x/y/../../..",
    "x/y/../../../",
    "../../x",
    "./../.",
    "bench/.data/h",
    "/tmp/x/",
    "/tmp//x/./y/..",
    "a/./",
    "a/..",
    "a/../",
    "..//..",
    "/a/b/c/../../..",
  ];
  const names = ["f.jsonl", "", ".", "..", "a/b", "../f", "/f"];
  for (const dir of dirs) {
    for (const name of names) {
      assert.equal(joinPath(dir, name), posix.join(dir, name), `join("${dir}", "${name}")`);
    }
    assert.equal(joinPath(dir), posix.join(dir), `join("${dir}")`);
  }
  assert.equal(joinPath(), posix.join());
});
