// Parses each Mermaid diagram of a JSON list read from stdin with the real mermaid package:
// one line per diagram, "ok <type>" or "error <message>"; exit status 1 if any failed.
// Mermaid needs a DOM even to parse (DOMPurify): jsdom provides one.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.Element = dom.window.Element;  // flowcharts' labels are sanitized as DOM elements
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = 0;
for (const source of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(source);
    console.log(`ok ${parsed.diagramType}`);
  } catch (error) {
    failed += 1;
    console.log(`error ${String(error.message).replace(/\s+/g, " ")}`);
  }
}
process.exit(failed ? 1 : 0);
