/**
 * Browser test of the page's user panel: Debian's Chromium (headless, playwright-core) against an in-process
 * server whose feed a simulator drives, so the test knows every order and fill the page should show.
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { withServer } from "../feed/_helpers.ts";
import { activeUsers, SimFeed } from "../feed/_user_harness.ts";
import { sleep, waitFor } from "../_support/wait.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Whether Debian's Chromium is there (CI installs it; elsewhere the test is skipped). */
let haveChromium = true;
try {
  Deno.statSync(CHROMIUM);
} catch {
  haveChromium = false;
}

// deno-lint-ignore no-explicit-any
type Element = any;

async function shown(page: Page): Promise<{ oids: number[]; tids: number[]; rows: string[][] }> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any
    const doc = (globalThis as any).document;
    const rows = (sel: string) => [...doc.querySelectorAll(sel)] as Element[];
    return {
      oids: rows("#user-orders tr").map((tr) => Number(tr.dataset.oid)),
      tids: rows("#user-fills tr").map((tr) => Number(tr.dataset.tid)),
      rows: rows("#user-orders tr").map((tr) => [...tr.children].map((td: Element) => td.textContent)),
    };
  });
}

Deno.test({
  name: haveChromium
    ? "the page's user panel shows a user's open orders and fills, live"
    : `the user panel browser test is skipped: ${CHROMIUM} not found`,
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await withServer(async ({ feed, http }) => {
      const h = new SimFeed({ seed: 17, load: 0.4 }, undefined, feed);
      for (let i = 0; i < 60; i++) h.step();
      const [user, other] = activeUsers(h.blocks.map((b) => b.block), 2);
      const profile = await Deno.makeTempDir({ prefix: "hlbook-chromium-" });
      let context: BrowserContext | null = null;
      let stepping: ReturnType<typeof setInterval> | undefined;
      const pageErrors: string[] = [];
      try {
        context = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
          viewport: { width: 1280, height: 860 },
        });
        const page = context.pages()[0] ?? await context.newPage();
        page.on("pageerror", (error) => pageErrors.push(error.message));
        await page.goto(`${http}/#coin=BTC&user=${user}`);
        stepping = setInterval(() => h.step(), 40);

        const matches = async (who: string) => {
          await waitFor(
            `the panel to show ${who}'s orders and fills`,
            async () => {
              clearInterval(stepping);
              stepping = undefined;
              // With the feed paused, the page must settle on exactly what the API says.
              const open = h.info({ type: "openOrders", user: who }).map((o: { oid: number }) => o.oid);
              const fills = h.info({ type: "userFills", user: who }).slice(0, 100).map((f: { tid: number }) =>
                f.tid
              );
              for (let i = 0; i < 40; i++) {
                const now = await shown(page);
                if (
                  JSON.stringify(now.oids) === JSON.stringify(open) &&
                  JSON.stringify(now.tids) === JSON.stringify(fills)
                ) {
                  return open.length > 0 && fills.length > 0 ? now : undefined;
                }
                await sleep(50);
              }
              stepping = setInterval(() => h.step(), 40);
              return undefined;
            },
            20_000,
            50,
          );
        };

        await t.step("from #user= in the URL: open orders and fills equal the API's", async () => {
          await matches(user);
        });

        await t.step("after more blocks, the panel follows the streams", async () => {
          const before = h.blocks.length;
          stepping = setInterval(() => h.step(), 40);
          await waitFor("more blocks", () => h.blocks.length > before + 60, 10_000);
          await matches(user);
        });

        await t.step("typing another address switches the panel to it", async () => {
          await page.fill("#user-input", other.toUpperCase().replace("0X", "0x"));
          await page.click("#user-form button[type=submit]");
          stepping = setInterval(() => h.step(), 40);
          await matches(other);
          assert.ok(page.url().includes(`user=${other}`));
        });

        await t.step("a malformed address is refused with a note", async () => {
          await page.fill("#user-input", "0x1234");
          await page.click("#user-form button[type=submit]");
          const note = await page.locator("#user-note").textContent();
          assert.match(note ?? "", /40 hex digits/);
        });
        assert.deepEqual(pageErrors, []);
      } finally {
        clearInterval(stepping);
        await context?.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    });
  },
});
