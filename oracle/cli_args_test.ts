import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { parseInvocation, readInvocation, UsageError } from "./cli_args.ts";
import { type FlagConfig, FlagsUnsure, type ParsedFlags, quickFlags } from "./quick_flags.ts";

const env = { get: (k: string) => (k === "TELEMETRY_DATA_DIR" ? "/data" : undefined) };
const NOW = Date.parse("2026-11-24T12:00:00Z");

Deno.test("--format is accepted anywhere on the line, also after diffs", () => {
  for (
    const argv of [
      ["diffs", "--format", "json"],
      ["--format", "json", "diffs"],
      ["--format=json", "diffs"],
      ["diffs", "-f", "json", "-e", "message"],
    ]
  ) {
    const inv = parseInvocation(argv, env, NOW);
    assert.equal(inv.command, "diffs");
    assert.equal(inv.format, "json", argv.join(" "));
  }
});

Deno.test("flags take the design's names and defaults", () => {
  const inv = parseInvocation(
    ["errors", "-s", "critical", "-a", "researcher", "--after", "10m", "-l", "5"],
    env,
    NOW,
  );
  assert.equal(inv.severity, "critical");
  assert.equal(inv.agent, "researcher");
  assert.equal(inv.after, NOW - 600_000);
  assert.equal(inv.limit, 5);
  assert.equal(inv.dataDir, "/data");
  assert.equal(parseInvocation(["replay", "-m", "10"], env, NOW).minutes, 10);
  assert.equal(parseInvocation(["trace", "conv-1"], env, NOW).id, "conv-1");
  assert.equal(parseInvocation(["state", "--data-dir", "x"], env, NOW).dataDir, "x");
});

Deno.test("bad flags and values are usage errors naming the value", async () => {
  const cases: [string[], RegExp][] = [
    [[], /a command is required/],
    [["diagnoze"], /unknown command "diagnoze"/],
    [["errors", "--colour"], /errors: Unknown option '--colour'/],
    [
      ["errors", "-s", "fatal"],
      /--severity must be one of critical, error, warning, info, got "fatal"/,
    ],
    [["diffs", "-f", "xml"], /--format must be text or json, got "xml"/],
    [["diffs", "-l", "0"], /--limit must be a whole number from 1 to 100000, got "0"/],
    [["state", "--at", "yesterday"], /--at: Cannot parse time "yesterday"/],
    [["replay", "-m", "5", "--after", "1h"], /cannot be combined/],
    [["trace"], /trace needs exactly one/],
    [["queues", "extra"], /queues takes no arguments, got "extra"/],
  ];
  for (const [argv, pattern] of cases) {
    await assert.rejects(readInvocation(argv, env, NOW), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${argv.join(" ")} is a usage error`);
      assert.match(err.message, pattern);
      return true;
    });
  }
});

Deno.test("out-of-range times, an empty data dir and negative numbers are usage errors naming flag and value", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["diffs", "--after", "99999999999d"],
      /^--after: Cannot parse time "99999999999d": .*out of range/,
    ],
    [
      ["state", "--at", "+275760-09-13T00:00:00Z"],
      /^--at: Cannot parse time "\+275760-09-13T00:00:00Z"/,
    ],
    [["state", "--data-dir", ""], /^--data-dir must name a directory, got ""$/],
    [["diffs", "-l", "-5"], /^--limit must be a whole number from 1 to 100000, got "-5"$/],
    [["diffs", "--limit", "-5"], /^--limit must be a whole number from 1 to 100000, got "-5"$/],
    [["replay", "-m", "-5"], /^--minutes must be a positive number, got "-5"$/],
    [["diffs", "-l", "-f", "json"], /^--limit needs a value, got the option "-f"$/],
  ];
  for (const [argv, pattern] of cases) {
    await assert.rejects(readInvocation(argv, env, NOW), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${argv.join(" ")} is a usage error`);
      assert.match(err.message, pattern, argv.join(" "));
      return true;
    });
  }
});

Deno.test("plain flags are read as parseArgs reads them, and any other line is left to it", () => {
  const options: FlagConfig["options"] = {
    format: { type: "string", short: "f" },
    "data-dir": { type: "string" },
    limit: { type: "string", short: "l" },
    help: { type: "boolean", short: "h" },
    after: { type: "string" },
  };
  const read = (args: string[]): ParsedFlags | "unsure" | "error" => {
    const config: FlagConfig = { args, options, allowPositionals: true, strict: true };
    try {
      const { values, positionals } = quickFlags(config);
      return { values: { ...values }, positionals };
    } catch (err) {
      if (err instanceof FlagsUnsure) return "unsure";
      throw err;
    }
  };
  const node = (args: string[]): ParsedFlags | "error" => {
    try {
      const { values, positionals } = parseArgs({ args, options, allowPositionals: true });
      return { values: { ...values }, positionals };
    } catch {
      return "error";
    }
  };
  const words = [
    "--format",
    "json",
    "-f",
    "-l",
    "5",
    "--data-dir",
    "x",
    "--data-dir=",
    "--format=json",
    "--format=",
    "-h",
    "--help",
    "--help=1",
    "-h=1",
    "-fjson",
    "-hl",
    "--",
    "-",
    "-5",
    "--colour",
    "-x",
    "--=x",
    "",
    "word",
    "--after",
    "-1",
    "--constructor",
    "--__proto__",
    "-l=5",
  ];
  const lines: string[][] = [[]];
  for (const a of words) {
    lines.push([a]);
    for (const b of words) {
      lines.push([a, b]);
      for (const c of ["json", "-h", "--", "x"]) lines.push([a, b, c]);
    }
  }
  let quick = 0;
  for (const args of lines) {
    const mine = read(args);
    if (mine === "unsure") continue;
    quick++;
    assert.deepEqual(mine, node(args), JSON.stringify(args));
  }
  assert.ok(quick > 500, `${quick} lines read quickly`);
  for (const args of [["--data-dir", "x", "-f", "json"], ["-h"], ["word", "--format=json"]]) {
    assert.notEqual(read(args), "unsure", args.join(" "));
  }
  // A line parseArgs refuses is never read quickly.
  assert.equal(read(["--colour"]), "unsure");
  assert.equal(read(["-f"]), "unsure");
});

Deno.test("an invocation reads the same whichever reads its flags", async () => {
  for (
    const argv of [
      ["diagnose", "--data-dir", "d", "-f", "json"],
      ["errors", "-s", "critical", "-a", "researcher", "--after", "10m", "-l", "5"],
      ["trace", "conv-1", "--format=json"],
      ["replay", "-m", "10"],
      ["diffs", "-fjson"],
      ["state", "--", "x"],
    ]
  ) {
    let quick;
    try {
      quick = parseInvocation(argv, env, NOW);
    } catch (err) {
      assert.ok(err instanceof FlagsUnsure, argv.join(" "));
    }
    let node;
    try {
      node = parseInvocation(argv, env, NOW, parseArgs);
    } catch (err) {
      node = err instanceof Error ? err.message : err;
    }
    let read;
    try {
      read = await readInvocation(argv, env, NOW);
    } catch (err) {
      read = err instanceof Error ? err.message : err;
    }
    assert.deepEqual(read, node, argv.join(" "));
    if (quick !== undefined) assert.deepEqual(quick, node, argv.join(" "));
  }
});

Deno.test("an unknown record type is a usage error listing the valid ones", () => {
  assert.throws(
    () => parseInvocation(["diffs", "-e", "bogus"], env, NOW),
    (err: unknown) =>
      err instanceof UsageError &&
      /^--event-type must be a record type, one of observer_started, .*, handoff_stuck, .*; got "bogus"$/
        .test(err.message),
  );
  assert.equal(
    parseInvocation(["diffs", "-e", "handoff_stuck"], env, NOW).eventType,
    "handoff_stuck",
  );
});

Deno.test("an invalid calendar date is a usage error quoting it", () => {
  assert.throws(
    () => parseInvocation(["state", "--at", "2026-02-30T00:00:00Z"], env, NOW),
    (err: unknown) =>
      err instanceof UsageError &&
      err.message ===
        '--at: Cannot parse time "2026-02-30T00:00:00Z": there is no day 30 in 02/2026 (it has 28)',
  );
});

Deno.test("a window whose start is not before its end is a usage error", () => {
  for (
    const [args, message] of [
      [
        ["diagnose", "--since", "10m", "--before", "1h"],
        '--since "10m" is later than --before "1h": the window is empty',
      ],
      [
        ["errors", "--after", "2026-11-24T11:00:00Z", "--before", "2026-11-24T11:00:00Z"],
        '--after "2026-11-24T11:00:00Z" is the same time as --before "2026-11-24T11:00:00Z": the window is empty',
      ],
    ] as const
  ) {
    assert.throws(
      () => parseInvocation([...args], env, NOW),
      (err: unknown) => err instanceof UsageError && err.message === message,
    );
  }
});
