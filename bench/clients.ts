/**
 * Benchmark WebSocket clients, run as a separate process by `latency.ts` and `fanout.ts`.
 *
 *   deno run --allow-net --allow-write bench/clients.ts --url ws://127.0.0.1:PORT/ws --clients N
 *     [--coins A,B,…] [--subs l2Book,trades,bbo] [--out samples.bin] [--progress] [--max-seconds S]
 *     [--forwarded-for 10.0.1.]
 *
 * Client i subscribes to each of `--subs` for coin i mod |coins|. Prints `ready` once every subscription is
 * acknowledged; from then on records, per received message, its block time (`time` field) and the receipt
 * instant (epoch ms, sub-ms) into `--out` as float64 pairs. With `--progress` prints `count N` (messages
 * received) every 20 ms. On `stop` (stdin) or after `--max-seconds` writes the samples, prints `done {json}`
 * and exits. With `--forwarded-for PREFIX`, client i sends `X-Forwarded-For: PREFIX<i mod 250 + 1>` (as many
 * addresses as clients, for a server run with `--trust-proxy X-Forwarded-For`).
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    clients: { type: "string", default: "1000" },
    coins: { type: "string", default: "BTC" },
    subs: { type: "string", default: "l2Book,trades,bbo" },
    out: { type: "string" },
    progress: { type: "boolean", default: false },
    "max-seconds": { type: "string", default: "120" },
    batch: { type: "string", default: "100" },
    "forwarded-for": { type: "string" },
  },
});
const url = values.url as string;
const n = Number(values.clients);
const coins = (values.coins as string).split(",");
const subs = (values.subs as string).split(",");
const out = values.out;
const batch = Number(values.batch);
const say = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));

let samples = new Float64Array(1 << 20);
let used = 0;
let recording = false;
let count = 0;
const bytes: Record<string, number> = {};
const messages: Record<string, number> = {};
const sockets: WebSocket[] = [];
let acks = 0;
let errors = 0;
let closedEarly = 0;
const origin = performance.timeOrigin;

function record(text: string): void {
  const now = origin + performance.now();
  count++;
  if (!recording) return;
  const end = text.indexOf('"', 12);
  const channel = text.slice(12, end);
  bytes[channel] = (bytes[channel] ?? 0) + text.length;
  messages[channel] = (messages[channel] ?? 0) + 1;
  const at = text.indexOf('"time":');
  if (at < 0) return;
  let t = 0;
  for (let i = at + 7; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    t = t * 10 + c;
  }
  if (used + 2 > samples.length) {
    const bigger = new Float64Array(samples.length * 2);
    bigger.set(samples);
    samples = bigger;
  }
  samples[used++] = t;
  samples[used++] = now;
}

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const prefix = values["forwarded-for"];
    const socket = prefix === undefined
      ? new WebSocket(url)
      : new WebSocket(url, { headers: { "x-forwarded-for": `${prefix}${(i % 250) + 1}` } });
    const coin = coins[i % coins.length];
    let pending = subs.length;
    socket.onopen = () => {
      for (const type of subs) {
        socket.send(JSON.stringify({ method: "subscribe", subscription: { type, coin } }));
      }
    };
    socket.onmessage = (event) => {
      const text = event.data as string;
      if (pending > 0 && text.startsWith('{"channel":"subscriptionResponse"')) {
        acks++;
        if (--pending === 0) resolve();
        return;
      }
      record(text);
    };
    socket.onerror = () => {
      errors++;
      resolve();
    };
    socket.onclose = () => {
      if (pending > 0) resolve();
      else if (!stopping) closedEarly++;
    };
    sockets.push(socket);
  });
}

let stopping = false;
async function stop(): Promise<never> {
  stopping = true;
  recording = false;
  if (out) await Deno.writeFile(out, new Uint8Array(samples.buffer, 0, used * 8));
  say(`done ${JSON.stringify({ samples: used / 2, count, bytes, messages, errors, closedEarly, acks })}`);
  for (const socket of sockets) {
    try {
      socket.close();
    } catch {
      // closing anyway
    }
  }
  Deno.exit(0);
}

setTimeout(stop, Number(values["max-seconds"]) * 1000);
for (let i = 0; i < n; i += batch) {
  const opening: Promise<void>[] = [];
  for (let j = i; j < Math.min(n, i + batch); j++) opening.push(open(j));
  await Promise.all(opening);
}
recording = true;
count = 0;
say(`ready ${JSON.stringify({ clients: sockets.length, acks, errors })}`);
if (values.progress) {
  let last = -1;
  setInterval(() => {
    if (count !== last) say(`count ${(last = count)}`);
  }, 20);
}
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (chunk.includes("stop")) await stop();
}
// stdin closed without `stop`: the parent went away or gave no stdin; `--max-seconds` ends the run
