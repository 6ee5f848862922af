import assert from "node:assert/strict";
import { AgentError } from "./agent_error.ts";
import { OpenAiChatModel, ScriptedModel } from "./llm.ts";

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
