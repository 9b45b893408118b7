// The Vercel AI SDK (npm `ai` + `@ai-sdk/openai`) against the gateway.
// Usage: node vercel_ai.mjs BASE_URL generate|stream tool|mcp|reasoning [MCP_URL]
// Prints the outcome (text, reasoning, tool calls and results, part types) as one JSON line.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, mode, kind, mcpUrl] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey: "unused" });

const weather = tool({
  description: "The weather in a city.",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => `sunny, 21 C in ${city}`,
});
const tools = {
  tool: { weather },
  mcp: {
    docs: openai.tools.mcp({ serverLabel: "docs", serverUrl: mcpUrl, requireApproval: "never" }),
  },
  reasoning: {},
}[kind];

const request = {
  model: openai("qwen3:8b"),
  prompt: kind === "mcp" ? "Add 2 and 40." : "What is the weather in Paris?",
  tools,
  stopWhen: stepCountIs(3),
  maxRetries: 0,
  // A self-hosted reasoning model: the SDK only asks for reasoning from models it knows unless told.
  providerOptions: { openai: { forceReasoning: true, reasoningSummary: "auto" } },
};

function outcome(result, parts) {
  return {
    text: result.text,
    reasoning: result.reasoningText ?? null,
    toolCalls: result.steps.flatMap((s) => s.toolCalls.map((c) => ({ name: c.toolName, input: c.input }))),
    toolResults: result.steps.flatMap((s) => s.toolResults.map((r) => ({ name: r.toolName, output: r.output }))),
    parts,
    finishReason: result.finishReason,
  };
}

if (mode === "generate") {
  const result = await generateText(request);
  const parts = result.steps.flatMap((s) => s.content.map((p) => p.type));
  console.log(JSON.stringify(outcome(result, parts)));
} else {
  const errors = [];
  const result = streamText({ ...request, onError: ({ error }) => errors.push(String(error)) });
  const parts = [];
  for await (const part of result.fullStream) {
    if (part.type === "error") errors.push(String(part.error));
    if (!parts.includes(part.type)) parts.push(part.type);
  }
  if (errors.length) throw new Error(errors.join("\n"));
  const done = {
    text: await result.text,
    reasoningText: await result.reasoningText,
    steps: await result.steps,
    finishReason: await result.finishReason,
  };
  console.log(JSON.stringify(outcome(done, parts)));
}
