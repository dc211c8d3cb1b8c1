/**
 * The soak fleet's client against a scripted server: its books belong to its current connection. A client whose
 * re-subscribe is acknowledged but never answered with an l2Book holds no book and is not settled (run 1 of the
 * soak compared such clients using what their dead connection last carried).
 *
 * @module
 */
import { assert, assertEquals } from "../_support/assert.ts";
import { newStats, SoakClient } from "./_clients.ts";
import { waitFor } from "../_support/wait.ts";

const l2 = (time: number, px: string) =>
  `{"channel":"l2Book","data":{"coin":"BTC","time":${time},"levels":[[{"px":"${px}","sz":"1","n":1}],[]]}}`;

Deno.test("soak client: a book from a dead connection is dropped; no l2Book on the new one = not settled", async () => {
  const sockets: WebSocket[] = [];
  const subscribes: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const n = sockets.push(socket);
    socket.onmessage = (event) => {
      subscribes.push(String(event.data));
      const echo = JSON.stringify(JSON.parse(String(event.data)).subscription);
      socket.send(`{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":${echo}}}`);
      // The first connection gets a book, then is closed as too slow; the second is never answered.
      if (n === 1) {
        socket.send(l2(1, "100"));
        socket.close(1008, "too slow");
      }
    };
    return response;
  });
  const stats = newStats();
  const client = new SoakClient(0, `ws://127.0.0.1:${server.addr.port}/ws`, "BTC", {}, false, stats);
  try {
    await client.connect();
    await waitFor(
      "the second connection's acknowledgement",
      () => client.connections === 2 && client.acks === 1,
    );
    assertEquals(subscribes.length, 2);
    assertEquals(client.l2, null, "the first connection's book must not count as the second's");
    assertEquals(client.lastOfPrevious, l2(1, "100"));
    assert(client.open && !client.settled);
    assertEquals(stats.closes["1008 too slow"], 1);

    // Once the current connection brings its l2Book the client is settled with it.
    sockets[1].send(l2(2, "101"));
    await waitFor("the second connection's l2Book", () => client.settled);
    assertEquals(client.l2, l2(2, "101"));
    assertEquals(client.l2Count, 1);
  } finally {
    client.stop();
    await server.shutdown();
  }
});
