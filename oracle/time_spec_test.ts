import assert from "node:assert/strict";
import { parseDuration, parseTime } from "./time_spec.ts";

Deno.test("times parse as ISO 8601 with a zone or as an age before now", () => {
  const now = Date.parse("2026-11-24T12:00:00Z");
  assert.equal(parseTime("2026-11-24T11:00:00Z", now), Date.parse("2026-11-24T11:00:00Z"));
  assert.equal(parseTime("2026-11-24T13:00:00+02:00", now), Date.parse("2026-11-24T11:00:00Z"));
  assert.equal(parseTime("10m", now), now - 600_000);
  assert.equal(parseTime("2h", now), now - 7_200_000);
  assert.equal(parseTime("1.5s", now), now - 1_500);
  assert.equal(parseDuration("1d"), 86_400_000);
});

Deno.test("a time without a zone or unit is refused with the value quoted", () => {
  assert.throws(() => parseTime("2026-11-24T11:00:00"), /Cannot parse time "2026-11-24T11:00:00"/);
  assert.throws(() => parseTime("10x"), /Cannot parse time "10x": expected ISO 8601/);
  assert.throws(() => parseDuration("soon"), /Cannot parse duration "soon"/);
});

Deno.test("a date that is not on the calendar is refused, not rolled over to the next month", () => {
  assert.throws(
    () => parseTime("2026-02-30T00:00:00Z"),
    /^RangeError: Cannot parse time "2026-02-30T00:00:00Z": there is no day 30 in 02\/2026 \(it has 28\)$/,
  );
  assert.throws(() => parseTime("2026-13-01T00:00:00Z"), /there is no month 13/);
  assert.throws(() => parseTime("2026-11-24T24:30:00Z"), /hours run to 23/);
  assert.throws(() => parseTime("2026-11-24T10:00:61Z"), /minutes and seconds to 59/);
  assert.throws(() => parseTime("2026-11-24T10:00:00+25:00"), /zone offset is out of range/);
  assert.equal(parseTime("2028-02-29T00:00:00Z"), Date.parse("2028-02-29T00:00:00Z"));
});
