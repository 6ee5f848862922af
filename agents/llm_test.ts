import assert from "node:assert/strict";
import { AgentError } from "./agent_error.ts";
import { FallbackModel, modelFromEnv, OpenAiChatModel, ScriptedModel } from "./llm.ts";

Deno.test("scripted model answers the same prompt the same way and reports usage", async () => {
  const model = new ScriptedModel(0);
  const a = await model.complete([{ role: "user", content: "What is lag?" }]);
  const b = await model.complete([{ role: "user", content: "What is lag?" }]);
  assert.equal(a.text, b.text);
  assert.equal(a.usage.model, "scripted-1");
  assert.ok(a.usage.input_tokens > 0 && a.usage.output_tokens > 0);
});

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  body: (baseUrl: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await body(`http://127.0.0.1:${server.addr.port}/v1`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("openai client reads a chat completion from a real HTTP server", async () => {
  let seen: unknown;
  await withServer(async (req) => {
    seen = await req.json();
    return Response.json({
      choices: [{ message: { role: "assistant", content: "hello" } }],
      usage: { prompt_tokens: 11, completion_tokens: 2 },
    });
  }, async (base) => {
    const out = await new OpenAiChatModel(base, "llama3", "k").complete([
      { role: "user", content: "hi" },
    ]);
    assert.equal(out.text, "hello");
    assert.equal(out.usage.input_tokens, 11);
    assert.equal(out.usage.output_tokens, 2);
    assert.equal(out.usage.model, "llama3");
  });
  assert.deepEqual(seen, { model: "llama3", messages: [{ role: "user", content: "hi" }] });
});

Deno.test("openai client turns HTTP 429 into a retryable llm_rate_limit error", async () => {
  await withServer(() => new Response("slow down", { status: 429 }), async (base) => {
    const err = await new OpenAiChatModel(base, "m").complete([{ role: "user", content: "x" }])
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AgentError);
    assert.equal(err.kind, "llm_rate_limit");
    assert.equal(err.retryable, true);
  });
});

Deno.test("with LLM_FALLBACK=scripted an unreachable endpoint is answered by the scripted model", async () => {
  // A port nobody listens on: connection refused
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const warnings: string[] = [];
  const model = new FallbackModel(
    new OpenAiChatModel(`http://127.0.0.1:${port}/v1`, "llama3.2:1b"),
    new ScriptedModel(0),
    (m) => warnings.push(m),
  );
  const answer = await model.complete([{ role: "user", content: "hello" }]);
  assert.equal(answer.usage.model, "scripted-1");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? "", /LLM unreachable, answered by scripted-1/);
  assert.equal(
    modelFromEnv(
      new Map([["LLM_BACKEND", "openai"], ["LLM_BASE_URL", "http://x/v1"], [
        "LLM_MODEL",
        "m",
      ], ["LLM_FALLBACK", "scripted"]]),
    ).constructor,
    FallbackModel,
  );
  assert.throws(
    () =>
      modelFromEnv(
        new Map([["LLM_BACKEND", "openai"], ["LLM_BASE_URL", "http://x/v1"], ["LLM_MODEL", "m"], [
          "LLM_FALLBACK",
          "maybe",
        ]]),
      ),
    /Unknown LLM_FALLBACK "maybe": expected scripted or none/,
  );
});

Deno.test("an answer the LLM server gives, a rate limit included, is never replaced", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("slow down", { status: 429 }),
  );
  try {
    const model = new FallbackModel(
      new OpenAiChatModel(`http://127.0.0.1:${server.addr.port}/v1`, "m"),
      new ScriptedModel(0),
      () => {},
    );
    await assert.rejects(
      () => model.complete([{ role: "user", content: "hello" }]),
      (err: unknown) => err instanceof AgentError && err.kind === "llm_rate_limit",
    );
  } finally {
    await server.shutdown();
  }
});
