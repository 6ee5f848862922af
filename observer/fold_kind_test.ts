import assert from "node:assert/strict";
import { ERROR_KINDS } from "@mat/agents/protocol";
import {
  agentErrorKindOf,
  FIXED_FOLD_KINDS,
  foldKindOf,
  k8sWarningKind,
  queueKind,
  stuckKind,
} from "./fold_kind.ts";

Deno.test("the templated kinds are written as they always were", () => {
  assert.equal(stuckKind("deadline_passed"), "stuck_deadline_passed");
  assert.equal(stuckKind("slower_than_normal"), "stuck_slower_than_normal");
  assert.equal(queueKind("STALL"), "queue_stall");
  assert.equal(queueKind("STOP"), "queue_stop");
  assert.equal(queueKind("ERR"), "queue_err");
  assert.equal(k8sWarningKind("FailedMount"), "k8s_failedmount");
});

Deno.test("a kind read from disk is narrowed into the union, an unknown one is undefined", () => {
  for (const kind of FIXED_FOLD_KINDS) assert.equal(foldKindOf(kind), kind);
  assert.equal(new Set(FIXED_FOLD_KINDS).size, FIXED_FOLD_KINDS.length, "each kind once");
  for (const kind of ERROR_KINDS) assert.ok(FIXED_FOLD_KINDS.includes(kind), kind);
  assert.equal(foldKindOf("k8s_backoff"), "k8s_backoff");
  for (const kind of ["quota_exceeded", "queue_warn", "stuck_", "constructor", ""]) {
    assert.equal(foldKindOf(kind), undefined, kind);
  }
  assert.equal(agentErrorKindOf("tool_error"), "tool_error");
  assert.equal(agentErrorKindOf("stuck_deadline_passed"), undefined);
});
