// Runs the Vercel AI SDK's OpenAI Responses provider (its real zod schemas and its parsing) over
// bodies the gateway produced. Usage: node validate.mjs INSTALL_DIR CAPTURES.json, where
// INSTALL_DIR is what install.sh printed and the file holds [{"name", "kind": "json" | "sse",
// "body"}]. Prints one JSON line: [{"name", "errors", "content"}], where errors are the SDK's own
// validation failures and content what it made of the body.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [installDir, capturesFile] = process.argv.slice(2);
const require = createRequire(join(installDir, "package.json"));
const entry = require.resolve("@ai-sdk/openai").replace(/\.js$/, ".mjs");
const { createOpenAI } = await import(pathToFileURL(entry).href);
const captures = JSON.parse(readFileSync(capturesFile, "utf8"));
const prompt = [{ role: "user", content: [{ type: "text", text: "hi" }] }];

function replaying(capture) {
  const type = capture.kind === "sse" ? "text/event-stream" : "application/json";
  return createOpenAI({
    apiKey: "unused",
    baseURL: "http://gateway.invalid/v1",
    fetch: async () => new Response(capture.body, { status: 200, headers: { "content-type": type } }),
  }).responses("m");
}

// The zod issues ("output.0.error: Invalid input") when the failure is a schema's, else the message.
function describe(error) {
  for (let cause = error; cause; cause = cause.cause) {
    if (Array.isArray(cause.issues)) {
      return cause.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    }
  }
  return `${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
}

async function check(capture) {
  const model = replaying(capture);
  const errors = [];
  let content = [];
  try {
    if (capture.kind === "json") {
      content = (await model.doGenerate({ prompt })).content;
    } else {
      const { stream } = await model.doStream({ prompt });
      for await (const part of stream) {
        if (part.type === "error") errors.push(describe(part.error));
        else content.push(part);
      }
    }
  } catch (error) {
    errors.push(describe(error));
  }
  const summary = content.map((part) => ({
    type: part.type,
    ...(typeof part.text === "string" ? { text: part.text } : {}),
    ...(typeof part.delta === "string" ? { delta: part.delta } : {}),
    ...(part.toolName ? { toolName: part.toolName } : {}),
  }));
  return { name: capture.name, errors, content: summary };
}

const results = [];
for (const capture of captures) results.push(await check(capture));
process.stdout.write(JSON.stringify(results) + "\n");
