/**
 * Client-side fuzzing helpers: seeded bad inputs, raw WebSocket frames (for what the WebSocket API cannot send:
 * invalid UTF-8, abrupt disconnects, readers that never read), and a node pump that writes blocks on a timer.
 *
 * @module
 */
import { Rng } from "../../src/sim/rng.ts";
import type { FaultyNode } from "./_harness.ts";

export { Rng };

const encoder = new TextEncoder();

/** Inputs every one of which the server must answer with an error (never a crash, never silence). */
export function badInputs(rng: Rng, coins: readonly string[], count: number): string[] {
  const coin = coins[0];
  const fixed = [
    "",
    " ",
    "null",
    "1",
    '"subscribe"',
    "[]",
    "{}",
    "{",
    '{"method":',
    '{"method":1}',
    '{"method":"subscribe"}',
    '{"method":"subscribe","subscription":null}',
    '{"method":"subscribe","subscription":[]}',
    '{"method":"subscribe","subscription":{"type":"l2Book"}}',
    '{"method":"subscribe","subscription":{"type":"l2Book","coin":"NOPE"}}',
    `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nSigFigs":7}}`,
    `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nSigFigs":4,"mantissa":2}}`,
    `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nLevels":0}}`,
    `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nLevels":"20"}}`,
    `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nLevels":1e400}}`,
    '{"method":"subscribe","subscription":{"type":"nope","coin":"BTC"}}',
    `{"method":"subscribe","subscription":{"type":"l4Book","coin":{"${coin}":1}}}`,
    `{"method":"unsubscribe","subscription":{"type":"trades","coin":"${coin}"}}`,
    '{"method":"teleport"}',
    '{"__proto__":{"method":"ping"}}',
    '{"constructor":{"prototype":{"method":"ping"}}}',
    '{"method":"subscribe","subscription":{"type":"l2Book","coin":"' + "X".repeat(20_000) + '"}}',
    "[".repeat(5_000) + "]".repeat(5_000),
    '{"a":'.repeat(3_000) + "1" + "}".repeat(3_000),
    "\u0000\u0001\u0002",
    "\ud800\udfff\ud800",
    '{"method":"subscribe","subscription":{"type":"l2Book","coin":"\\ud800"}}',
    '{"method":"post"}',
    '{"method":"post","id":1}',
    '{"method":"post","id":2,"request":{"type":"info","payload":{"type":"l2Book","coin":"NOPE"}}}',
    '{"method":"post","id":3,"request":{"type":"action","payload":{}}}',
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i < fixed.length) {
      out.push(fixed[i]);
      continue;
    }
    switch (rng.int(4)) {
      case 0: { // random printable noise
        let s = "";
        for (let n = rng.int(200); n > 0; n--) s += String.fromCharCode(32 + rng.int(95));
        out.push(s.startsWith("{") ? s : "#" + s);
        break;
      }
      case 1: { // random code units, lone surrogates included
        let s = "";
        for (let n = 1 + rng.int(100); n > 0; n--) s += String.fromCharCode(rng.int(0x10000));
        out.push("\u0007" + s);
        break;
      }
      case 2: { // a valid request with a broken value
        const values = ["null", "true", "-1", "1.5", '""', "[]", "{}", '"\\u0000"', "99999999999999999999"];
        const key = ["type", "coin", "nSigFigs", "mantissa", "nLevels"][rng.int(5)];
        const value = values[rng.int(values.length)];
        const base: Record<string, string> = { type: '"l2Book"', coin: `"${coin}"`, nSigFigs: "2" };
        base[key] = value;
        if (key === "coin" || key === "type") base[key] = value === '""' ? '"?"' : value;
        out.push(
          `{"method":"subscribe","subscription":{${
            Object.entries(base).map(([k, v]) => `"${k}":${v}`).join(",")
          },"mantissa":3}}`,
        );
        break;
      }
      default: { // truncated valid JSON
        const valid = `{"method":"subscribe","subscription":{"type":"l2Book","coin":"${coin}","nSigFigs":5}}`;
        out.push(valid.slice(0, 1 + rng.int(valid.length - 2)));
      }
    }
  }
  return out;
}

/** A masked client frame with any opcode (1 text, 2 binary, 8 close). */
export function clientFrame(opcode: number, payload: Uint8Array | string): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  let header: number[];
  if (data.length < 126) header = [0x80 | opcode, 0x80 | data.length];
  else if (data.length < 65536) header = [0x80 | opcode, 0x80 | 126, data.length >> 8, data.length & 0xff];
  else {
    header = [0x80 | opcode, 0x80 | 127, 0, 0, 0, 0];
    for (let shift = 24; shift >= 0; shift -= 8) header.push((data.length >>> shift) & 0xff);
  }
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const frame = new Uint8Array(header.length + 4 + data.length);
  frame.set(header, 0);
  frame.set(mask, header.length);
  for (let i = 0; i < data.length; i++) frame[header.length + 4 + i] = data[i] ^ mask[i % 4];
  return frame;
}

/** A raw WebSocket connection (handshake done by hand) that reads only when asked to. */
export class RawSocket {
  private constructor(readonly conn: Deno.TcpConn, readonly head: string, readonly rest: Uint8Array) {}

  static async open(port: number, timeout = 5000): Promise<RawSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(
        conn,
        encoder.encode(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
      );
      const buffer = new Uint8Array(16 * 1024);
      let bytes: Uint8Array = new Uint8Array(0);
      const deadline = Date.now() + timeout;
      for (;;) {
        const end = indexOfHeadEnd(bytes);
        if (end >= 0) {
          const head = new TextDecoder().decode(bytes.subarray(0, end));
          return new RawSocket(conn, head, bytes.slice(end + 4));
        }
        if (Date.now() > deadline) throw new Error("no upgrade response");
        const n = await conn.read(buffer);
        if (n === null) throw new Error("closed during the upgrade");
        bytes = concat(bytes, buffer.subarray(0, n));
      }
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  async send(opcode: number, payload: Uint8Array | string): Promise<void> {
    await writeAll(this.conn, clientFrame(opcode, payload));
  }

  /**
   * Reads frames until the server closes (close frame or EOF) or `timeout` ms pass; returns the text frames and
   * the close code (null: EOF without a close frame; undefined: still open at the timeout).
   */
  async drain(timeout = 5000): Promise<{ texts: string[]; closeCode: number | null | undefined }> {
    const texts: string[] = [];
    let bytes: Uint8Array = this.rest;
    const buffer = new Uint8Array(64 * 1024);
    const deadline = Date.now() + timeout;
    for (;;) {
      // parse complete frames
      for (;;) {
        const frame = parseServerFrame(bytes);
        if (!frame) break;
        bytes = bytes.subarray(frame.length);
        if (frame.opcode === 1) texts.push(new TextDecoder().decode(frame.payload));
        if (frame.opcode === 8) {
          const code = frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : null;
          return { texts, closeCode: code };
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) return { texts, closeCode: undefined };
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(buffer).catch(() => null),
        new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (n === "timeout") return { texts, closeCode: undefined };
      if (n === null) return { texts, closeCode: null };
      bytes = concat(bytes, buffer.subarray(0, n));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function parseServerFrame(bytes: Uint8Array): { opcode: number; payload: Uint8Array; length: number } | null {
  if (bytes.length < 2) return null;
  const opcode = bytes[0] & 0x0f;
  let length = bytes[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = (bytes[2] << 8) | bytes[3];
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = 0;
    for (let i = 2; i < 10; i++) length = length * 256 + bytes[i];
    offset = 10;
  }
  if (bytes.length < offset + length) return null;
  return { opcode, payload: bytes.subarray(offset, offset + length), length: offset + length };
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** Writes one block every `interval` ms until stopped, recording the wall-clock time each block time was written. */
export class Pump {
  readonly writtenAt = new Map<number, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  paused = false;

  constructor(readonly node: FaultyNode, readonly interval = 50) {}

  start(): void {
    this.#timer = setInterval(() => {
      if (this.paused) return;
      const block = this.node.step();
      this.node.write(block);
      this.writtenAt.set(block.time, performance.now());
    }, this.interval);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
