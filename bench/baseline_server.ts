/**
 * The runtime's floor for the latency benchmark: `Deno.serve` + `upgradeWebSocket` that tails the node's
 * statuses file (the last line of a block) with a 1 ms poll and, for each block line, broadcasts one pre-built
 * message per subscription, of the size hlbook's messages of that channel had (`--sizes`), carrying the
 * block's time. With `--shares` only that share of the subscriptions of a channel get one each block (spread
 * evenly), so the message count matches hlbook's, which sends only on change. Nothing else: no parsing
 * beyond the line's header, no book.
 *
 *   deno run --allow-net --allow-read bench/baseline_server.ts --port P --data-dir DIR
 *     --sizes '{"l2Book":1800,"bbo":120,"trades":400}' [--shares '{"l2Book":0.5}']
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    "data-dir": { type: "string" },
    sizes: { type: "string", default: "{}" },
    shares: { type: "string", default: "{}" },
  },
});
const dir = join(values["data-dir"] as string, "node_order_statuses_by_block", "hourly");
const sizes = JSON.parse(values.sizes as string) as Record<string, number>;
/** Per channel, the share of (block, subscription) pairs hlbook sent a message for (default 1: all). */
const shares = JSON.parse(values.shares as string) as Record<string, number>;
let blockIndex = 0;

const subscribers = new Map<string, Set<WebSocket>>();

Deno.serve({ hostname: "127.0.0.1", port: Number(values.port), onListen: () => {} }, (request) => {
  if (request.headers.get("upgrade") !== "websocket") return new Response("baseline", { status: 200 });
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.method !== "subscribe") return;
    const type = message.subscription.type as string;
    let set = subscribers.get(type);
    if (!set) subscribers.set(type, set = new Set());
    set.add(socket);
    socket.send(JSON.stringify({ channel: "subscriptionResponse", data: message }));
  };
  socket.onclose = () => {
    for (const set of subscribers.values()) set.delete(socket);
  };
  return response;
});

function build(channel: string, time: number): string {
  const size = sizes[channel] ?? 200;
  const head = channel === "trades"
    ? `{"channel":"trades","data":[{"time":${time},"pad":"`
    : `{"channel":"${channel}","data":{"coin":"BTC","time":${time},"pad":"`;
  const tail = channel === "trades" ? `"}]}` : `"}}`;
  return head + "x".repeat(Math.max(0, size - head.length - tail.length)) + tail;
}

function broadcast(time: number): void {
  blockIndex++;
  for (const [channel, set] of subscribers) {
    const text = build(channel, time);
    const share = shares[channel] ?? 1;
    let k = 0;
    for (const socket of set) {
      k++;
      // subscriber k gets this block's message when the running share crosses an integer
      if (Math.floor((k + blockIndex * 7919) * share) === Math.floor((k - 1 + blockIndex * 7919) * share)) {
        continue;
      }
      if (socket.readyState === WebSocket.OPEN) socket.send(text);
    }
  }
}

async function newest(): Promise<string | null> {
  try {
    const dates: string[] = [];
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) dates.push(e.name);
    if (dates.length === 0) return null;
    const date = dates.sort().at(-1) as string;
    const hours: number[] = [];
    for await (const e of Deno.readDir(join(dir, date))) if (e.isFile) hours.push(Number(e.name));
    if (hours.length === 0) return null;
    return join(dir, date, String(Math.max(...hours)));
  } catch {
    return null;
  }
}

const buffer = new Uint8Array(1 << 20);
const decoder = new TextDecoder();
let path: string | null = null;
let file: Deno.FsFile | null = null;
let header = "";
let lastLook = 0;
for (;;) {
  if (performance.now() - lastLook > 100) {
    lastLook = performance.now();
    const latest = await newest();
    if (latest !== null && latest !== path) {
      file?.close();
      file = await Deno.open(latest);
      path = latest;
      header = "";
    }
  }
  let got = 0;
  if (file) {
    for (;;) {
      const n = await file.read(buffer);
      if (n === null || n === 0) break;
      got += n;
      let start = 0;
      for (;;) {
        if (header.length < 100) header += decoder.decode(buffer.subarray(start, Math.min(n, start + 100)));
        const end = buffer.subarray(0, n).indexOf(10, start);
        if (end < 0) break;
        const at = header.indexOf('"block_time":"');
        if (at >= 0) broadcast(Date.parse(header.slice(at + 14, at + 14 + 23) + "Z"));
        header = "";
        start = end + 1;
        if (start >= n) break;
      }
    }
  }
  if (got === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
