import { expect, test } from "@playwright/test";
import * as crypto from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { hydrated, logIn } from "./helpers";

type Call = { id: string; timestamp: string; signature: string; body: string };

/** A receiver on loopback that records each call (the server runs with --allow-private-targets). */
async function receiver(): Promise<{ url: string; calls: Call[]; close: () => void }> {
  const calls: Call[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      calls.push({
        id: String(req.headers["webhook-id"]),
        timestamp: String(req.headers["webhook-timestamp"]),
        signature: String(req.headers["webhook-signature"]),
        body,
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, calls, close: () => server.close() };
}

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body` under the decoded secret. */
function signedBy(call: Call, secret: string) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto.createHmac("sha256", key).update(`${call.id}.${call.timestamp}.${call.body}`).digest("base64");
  return call.signature.split(" ").includes(`v1,${expected}`);
}

test("an admin adds an endpoint, sends a test event and sees it delivered", async ({ page }) => {
  const hook = await receiver();
  try {
    await logIn(page);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();
    await hydrated(page);
    await page.getByLabel("Endpoint URL").fill(hook.url);
    await page.getByLabel("Description (optional)").fill("E2E receiver");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = (await page.getByTestId("webhook-secret").textContent())!;
    expect(secret).toMatch(/^whsec_/);

    const endpoint = page.getByRole("article", { name: `Endpoint ${hook.url}` });
    await expect(endpoint).toContainText("export.completed, export.failed");
    await endpoint.getByRole("button", { name: "Send a test event to E2E receiver" }).click();
    await expect.poll(() => hook.calls.length, { timeout: 15_000 }).toBe(1);
    const call = hook.calls[0];
    expect(signedBy(call, secret)).toBeTruthy();
    expect(JSON.parse(call.body).type).toBe("webhook.test");

    // The history shows the delivery: the event, the answer and the time it took.
    const row = endpoint.getByRole("row").filter({ hasText: "webhook.test" });
    await expect(row).toContainText("delivered", { timeout: 10_000 });
    await expect(row).toContainText("200");
    await page.screenshot({ path: "test-results/screenshots/webhooks.png" });

    await endpoint.getByRole("button", { name: "Delete E2E receiver" }).click();
    await expect(page.getByRole("article", { name: `Endpoint ${hook.url}` })).toHaveCount(0);
  } finally {
    hook.close();
  }
});
