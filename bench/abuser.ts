/**
 * The abusive client of the `abuse` section, run as its own process by `abuse.ts`: every connection comes from
 * one address (`X-Forwarded-For: --address`, hlbook runs with `--trust-proxy X-Forwarded-For`).
 *
 *   deno run --allow-net bench/abuser.ts --port P --mode flood --connections 5000 [--address 10.66.6.6]
 *   deno run --allow-net bench/abuser.ts --port P --mode slowloris --connections 2000
 *
 * `flood`: opens `--connections` raw WebSocket upgrades (100 at a time); each accepted one subscribes to
 * l2Book, trades and l4Book of BTC and never reads, so hlbook's buffers for it fill (the worst client there is).
 * `slowloris`: opens `--connections` TCP connections that each send 1 KB of a request head and never finish it.
 * Prints `opened {json}` when all attempts are made, holds until `stop` on stdin, closes everything, prints
 * `closed` and exits.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    mode: { type: "string", default: "flood" },
    connections: { type: "string", default: "5000" },
    address: { type: "string", default: "10.66.6.6" },
    coin: { type: "string", default: "BTC" },
  },
});
const port = Number(values.port);
const total = Number(values.connections);
const address = values.address as string;
const coin = values.coin as string;
const encoder = new TextEncoder();
const say = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

/** A masked client text frame. */
function frame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const head = payload.length < 126
    ? [0x81, 0x80 | payload.length]
    : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
  const mask = [7, 1, 3, 9];
  const out = new Uint8Array(head.length + 4 + payload.length);
  out.set(head, 0);
  out.set(mask, head.length);
  for (let i = 0; i < payload.length; i++) out[head.length + 4 + i] = payload[i] ^ mask[i % 4];
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

const held: Deno.TcpConn[] = [];
const counts = { attempts: 0, accepted: 0, refused429: 0, otherStatus: 0, failed: 0 };

async function flood(): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
        `X-Forwarded-For: ${address}\r\n\r\n`,
    ),
  );
  const buffer = new Uint8Array(512);
  const n = await conn.read(buffer);
  const status = Number(
    /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buffer.subarray(0, n ?? 0)))?.[1],
  );
  if (status !== 101) {
    if (status === 429) counts.refused429++;
    else counts.otherStatus++;
    conn.close();
    return;
  }
  counts.accepted++;
  for (const type of ["l2Book", "trades", "l4Book"]) {
    await writeAll(conn, frame(JSON.stringify({ method: "subscribe", subscription: { type, coin } })));
  }
  held.push(conn); // never read again
}

async function slowloris(): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // A request head that never ends: 1 KB of headers, no blank line.
  await writeAll(
    conn,
    encoder.encode(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${"a".repeat(1000)}\r\n`),
  );
  counts.accepted++;
  held.push(conn);
}

const attempt = values.mode === "slowloris" ? slowloris : flood;
for (let i = 0; i < total; i += 100) {
  const batch: Promise<void>[] = [];
  for (let j = i; j < Math.min(total, i + 100); j++) {
    counts.attempts++;
    batch.push(attempt().catch(() => void counts.failed++));
  }
  await Promise.all(batch);
}
say(`opened ${JSON.stringify(counts)}`);
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  if (chunk.includes("stop")) break;
}
for (const conn of held) {
  try {
    conn.close();
  } catch {
    // gone already
  }
}
say("closed");
Deno.exit(0);
