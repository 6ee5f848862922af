/**
 * LLM backends: an OpenAI-compatible chat-completions client (Ollama, a LiteLLM proxy...) and the
 * deterministic `scripted` model, the default, so the system runs with no model server.
 */

import { AgentError } from "./agent_error.ts";
import type { LlmUsage } from "./protocol/envelope.ts";
import { isRecord } from "./is_record.ts";
import { sleep } from "./sleep.ts";
import { fnv1a } from "./fnv1a.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Completion {
  text: string;
  usage: LlmUsage;
}

export interface ChatModel {
  readonly model: string;
  complete(messages: ChatMessage[], signal?: AbortSignal): Promise<Completion>;
}

/** Rough token count used by the scripted model and as a fallback: 4 characters a token */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

const OPENINGS = ["In short", "Put simply", "At its core", "To summarise", "Briefly"];

/**
 * A model with no server: the same prompt always gives the same answer, built from the prompt's
 * last user message. Usage is counted as a real model's would be, at a nominal price.
 */
export class ScriptedModel implements ChatModel {
  readonly model = "scripted-1";
  constructor(private readonly latencyMs = 20) {}

  async complete(messages: ChatMessage[], signal?: AbortSignal): Promise<Completion> {
    const started = performance.now();
    await sleep(this.latencyMs, signal);
    signal?.throwIfAborted();
    const prompt = messages.map((m) => m.content).join("\n");
    const last = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
    const system = messages.find((m) => m.role === "system")?.content ?? "assistant";
    const opening = OPENINGS[fnv1a(prompt) % OPENINGS.length] ?? "Briefly";
    const topic = last.split(/\s+/).slice(0, 24).join(" ");
    const text = `${opening}, as ${
      system.split(/[.:]/)[0]?.toLowerCase() ?? "assistant"
    }: ${topic}`;
    const input = estimateTokens(prompt);
    const output = estimateTokens(text);
    return {
      text,
      usage: {
        model: this.model,
        input_tokens: input,
        output_tokens: output,
        cost_usd: Number(((input * 0.15 + output * 0.6) / 1_000_000).toFixed(8)),
        latency_ms: Math.round(performance.now() - started),
      },
    };
  }
}

/** Narrows a chat-completions response body to its text and token counts */
export function parseChatCompletion(
  body: unknown,
): { text: string; input?: number; output?: number } {
  if (!isRecord(body) || !Array.isArray(body["choices"])) {
    throw new AgentError("llm_error", 'LLM response has no "choices" array', {
      retryable: false,
    });
  }
  const first: unknown = body["choices"][0];
  const message = isRecord(first) ? first["message"] : undefined;
  const content = isRecord(message) ? message["content"] : undefined;
  if (typeof content !== "string") {
    throw new AgentError("llm_error", "LLM response has no choices[0].message.content string", {
      retryable: false,
    });
  }
  const usage = isRecord(body["usage"]) ? body["usage"] : {};
  const out: { text: string; input?: number; output?: number } = { text: content };
  if (typeof usage["prompt_tokens"] === "number") out.input = usage["prompt_tokens"];
  if (typeof usage["completion_tokens"] === "number") out.output = usage["completion_tokens"];
  return out;
}

/** No answer at all from the LLM endpoint (no connection): not an error the server gave */
export class LlmUnreachableError extends AgentError {
  override name = "LlmUnreachableError";
  constructor(message: string, cause: unknown) {
    super("llm_error", message, { retryable: true, cause });
  }
}

/**
 * A model that answers with `fallback` whenever `primary` cannot be reached at all (no
 * connection: the model server is not deployed or not up yet). An answer the server gives, even
 * an error or a rate limit, is the answer. The fallback's own usage says which model answered
 * (`scripted-1` in `oracle llm`), and every fallback is logged: nothing pretends to be the LLM.
 */
export class FallbackModel implements ChatModel {
  readonly model: string;
  constructor(
    private readonly primary: ChatModel,
    private readonly fallback: ChatModel,
    private readonly warn: (message: string) => void = (m) => console.error(m),
  ) {
    this.model = primary.model;
  }

  async complete(messages: ChatMessage[], signal?: AbortSignal): Promise<Completion> {
    try {
      return await this.primary.complete(messages, signal);
    } catch (err) {
      if (!(err instanceof LlmUnreachableError)) throw err;
      this.warn(
        JSON.stringify({
          level: "warn",
          msg: `LLM unreachable, answered by ${this.fallback.model} (LLM_FALLBACK)`,
          error: err.message,
        }),
      );
      return await this.fallback.complete(messages, signal);
    }
  }
}

/** An OpenAI-compatible `/chat/completions` endpoint (Ollama: http://localhost:11434/v1) */
export class OpenAiChatModel implements ChatModel {
  constructor(
    private readonly baseUrl: string,
    readonly model: string,
    private readonly apiKey?: string,
  ) {}

  async complete(messages: ChatMessage[], signal?: AbortSignal): Promise<Completion> {
    const started = performance.now();
    const url = `${this.baseUrl.replace(/\/+$/, "")}/chat/completions`;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.apiKey) headers["authorization"] = `Bearer ${this.apiKey}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: this.model, messages }),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new LlmUnreachableError(`LLM endpoint "${url}" unreachable: ${String(err)}`, err);
    }
    const raw = await res.text();
    if (res.status === 429) {
      throw new AgentError("llm_rate_limit", `LLM rate limit (HTTP 429) from "${url}"`, {
        retryable: true,
      });
    }
    if (!res.ok) {
      throw new AgentError(
        "llm_error",
        `LLM HTTP ${res.status} from "${url}": ${raw.slice(0, 200)}`,
        {
          retryable: res.status >= 500,
        },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new AgentError("llm_error", `LLM response from "${url}" is not JSON`, {
        retryable: false,
      });
    }
    const parsed = parseChatCompletion(body);
    const input = parsed.input ?? estimateTokens(messages.map((m) => m.content).join("\n"));
    const output = parsed.output ?? estimateTokens(parsed.text);
    return {
      text: parsed.text,
      usage: {
        model: this.model,
        input_tokens: input,
        output_tokens: output,
        cost_usd: 0,
        latency_ms: Math.round(performance.now() - started),
      },
    };
  }
}

/**
 * The model chosen by the environment: `LLM_BACKEND=scripted` (default) or `openai` with
 * `LLM_BASE_URL`, `LLM_MODEL` and optional `LLM_API_KEY`; with `openai`, `LLM_FALLBACK=scripted`
 * answers with the scripted model while the endpoint cannot be reached (`FallbackModel`).
 */
export function modelFromEnv(env: { get(key: string): string | undefined } = Deno.env): ChatModel {
  const backend = env.get("LLM_BACKEND") || "scripted";
  if (backend === "scripted") {
    const latency = Number(env.get("SCRIPTED_LATENCY_MS") ?? "20");
    return new ScriptedModel(Number.isFinite(latency) && latency >= 0 ? latency : 20);
  }
  if (backend === "openai") {
    const base = env.get("LLM_BASE_URL");
    const model = env.get("LLM_MODEL");
    if (!base || !model) {
      throw new TypeError("LLM_BACKEND=openai needs LLM_BASE_URL and LLM_MODEL");
    }
    const primary = new OpenAiChatModel(base, model, env.get("LLM_API_KEY"));
    const fallback = env.get("LLM_FALLBACK") || "none";
    if (fallback === "none") return primary;
    if (fallback === "scripted") return new FallbackModel(primary, new ScriptedModel(20));
    throw new TypeError(`Unknown LLM_FALLBACK "${fallback}": expected scripted or none`);
  }
  throw new TypeError(`Unknown LLM_BACKEND "${backend}": expected scripted or openai`);
}
