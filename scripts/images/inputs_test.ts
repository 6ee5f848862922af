import {
  deepStrictEqual as assertEquals,
  notStrictEqual as assertNotEquals,
} from "node:assert/strict";
import { join } from "node:path";
import { hashFiles, hashInputs } from "./inputs.ts";

Deno.test("hashFiles changes with a file's content, mode or name, not with the walk", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "bin"));
    await Deno.writeTextFile(join(root, "bin", "run"), "#!/bin/sh\n");
    await Deno.writeTextFile(join(root, "bin", "a.sh"), "echo a\n");
    const first = await hashFiles(root, ["bin"]);
    assertEquals(await hashFiles(root, ["bin"]), first);
    await Deno.chmod(join(root, "bin", "run"), 0o755);
    const executable = await hashFiles(root, ["bin"]);
    assertNotEquals(executable, first);
    await Deno.writeTextFile(join(root, "bin", "run"), "#!/bin/bash\n");
    assertNotEquals(await hashFiles(root, ["bin"]), executable);
    await Deno.rename(join(root, "bin", "a.sh"), join(root, "bin", "b.sh"));
    assertNotEquals(await hashFiles(root, ["bin"]), executable);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("hashInputs does not depend on the order of the parts", async () => {
  assertEquals(
    await hashInputs({ base: "1", script: "apt-get" }),
    await hashInputs({ script: "apt-get", base: "1" }),
  );
  assertNotEquals(await hashInputs({ base: "1" }), await hashInputs({ base: "2" }));
});
