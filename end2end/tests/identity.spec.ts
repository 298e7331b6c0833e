import { expect, test } from "@playwright/test";
import * as crypto from "crypto";
import * as fs from "fs";
import { hydrated, logIn, uniqueEmail } from "./helpers";

/** Signs claims as a host product would: a JWT with HS256 and the shared secret. */
function signJwt(claims: object): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  const secret = process.env.EGRESS_E2E_JWT_SECRET!;
  return `${unsigned}.${crypto.createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}

function link(claims: object, returnTo: string) {
  return `/auth/jwt?token=${signJwt(claims)}&return_to=${encodeURIComponent(returnTo)}`;
}

test("a person arrives from the host product, picks columns, exports and downloads", async ({ page }) => {
  const email = uniqueEmail("host");
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: email,
    email,
    name: "Jay Host",
    tenant: { id: "acme", name: "Acme Corp" },
    role: "admin",
    aud: "egress",
    iat: now,
    exp: now + 120,
    jti: crypto.randomUUID(),
  };
  await page.goto(link(claims, "/data/orders?status=paid"));
  await expect(page).toHaveURL(/\/data\/orders\?status=paid$/);
  await hydrated(page);
  await expect(page.getByText("Jay Host")).toBeVisible();
  const count = Number(await page.getByTestId("row-count").getAttribute("data-count"));
  expect(count).toBeGreaterThan(0);

  // Only three columns, the total first.
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog", { name: "Export orders" });
  const keep = ["Order number", "Total", "Status"];
  for (const label of ["ID", "Customer", "Customer email", "Items", "Currency", "Shipping address", "Note", "Tags", "Created at"]) {
    await dialog.getByLabel(`Include ${label}`, { exact: true }).uncheck();
  }
  for (let i = 0; i < 5; i++) {
    await dialog.getByRole("button", { name: "Move Total up" }).click();
  }
  await expect(dialog.getByRole("button", { name: "Move Total up" })).toBeDisabled();
  for (const label of keep) {
    await expect(dialog.getByLabel(`Include ${label}`, { exact: true })).toBeChecked();
  }
  await page.screenshot({ path: "test-results/screenshots/export-dialog-columns.png" });
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });

  const [download] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("link", { name: "Download" }).click()]);
  const text = fs.readFileSync((await download.path())!, "utf8");
  const lines = text.trimEnd().split("\r\n");
  expect(lines[0]).toBe("Total,Order number,Status");
  expect(lines.length).toBe(count + 1);
  for (const line of lines.slice(1)) {
    expect(line).toMatch(/^-?\d+(\.\d+)?,ORD-[0-9-]+,paid$/);
  }

  // The link worked once; opened again, it is refused with a page that says why.
  await page.goto(link(claims, "/"));
  await expect(page.getByRole("heading", { name: "Link already used" })).toBeVisible();
  await expect(page.getByText("This sign-in link was used already.")).toBeVisible();
});

test("a sign-in link that points off-site is refused", async ({ page }) => {
  const email = uniqueEmail("host");
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: email, email, tenant: { id: "acme", name: "Acme Corp" }, aud: "egress", iat: now, exp: now + 60, jti: crypto.randomUUID() };
  const response = await page.goto(link(claims, "https://evil.example/"));
  expect(response!.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "Not this site" })).toBeVisible();
  await expect(page).toHaveURL(/\/auth\/jwt/);
});

test("an admin makes an API token, sees it once, and revokes it", async ({ page, request }) => {
  await logIn(page);
  await page.getByRole("link", { name: "API tokens" }).click();
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await hydrated(page);
  const name = `Nightly sync ${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.getByTestId("token-secret").textContent())!;
  expect(secret).toMatch(/^egress_[0-9a-f]{64}$/);
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("exports:read");
  await expect(row).toContainText("active");
  await page.screenshot({ path: "test-results/screenshots/api-tokens.png" });

  const asToken = { headers: { Authorization: `Bearer ${secret}` } };
  expect((await request.get("/api/exports", asToken)).status()).toBe(200);
  const refused = await request.post("/api/exports", { ...asToken, data: { dataset: "orders", format: "csv" } });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.message).toContain("exports:write");

  // Listed again after a reload, the secret is gone: only its first characters show.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("token-secret")).toHaveCount(0);
  await expect(page.getByRole("row").filter({ hasText: name })).toContainText(secret.slice(0, 13));
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("row").filter({ hasText: name })).toContainText("revoked");
  const gone = await request.get("/api/exports", asToken);
  expect(gone.status()).toBe(401);
  expect((await gone.json()).error.message).toBe("This API token was revoked.");
});

function claimsFor(email: string, tenant: string, role = "member") {
  const now = Math.floor(Date.now() / 1000);
  return { sub: email, email, name: `Person ${email.split("@")[0]}`, tenant: { id: tenant, name: tenant === "acme" ? "Acme Corp" : `Tenant ${tenant}` }, role, aud: "egress", iat: now, exp: now + 120, jti: crypto.randomUUID() };
}

test("a sign-in link opened while someone else is signed in asks before it switches", async ({ page }) => {
  await logIn(page);
  const email = uniqueEmail("planted");
  const planted = link(claimsFor(email, "acme"), "/exports");
  await page.goto(planted);
  await expect(page.getByRole("heading", { name: "Switch account?" })).toBeVisible();
  await expect(page.getByText("You are signed in to Egress as ada@acme.example")).toBeVisible();
  await page.screenshot({ path: "test-results/screenshots/switch-account.png" });

  // Going back keeps Ada signed in.
  await page.getByRole("link", { name: "Back to your data" }).click();
  await expect(page.getByRole("heading", { name: "Your data" })).toBeVisible();
  const me = await page.request.get("/api/session");
  expect((await me.json()).email).toBe("ada@acme.example");

  // The same link, confirmed: the link was not spent by asking.
  await page.goto(planted);
  await page.getByRole("button", { name: `Continue as ${email}` }).click();
  await expect(page).toHaveURL(/\/exports$/);
  const now = await page.request.get("/api/session");
  expect((await now.json()).email).toBe(email);
});

test("a removed person's open page loses access at once", async ({ page, browser }) => {
  const email = uniqueEmail("leaver");
  await page.goto(link(claimsFor(email, "acme"), "/exports"));
  await expect(page).toHaveURL(/\/exports$/);
  await hydrated(page);

  // The owner removes them on the settings page.
  const owner = await browser.newPage();
  await logIn(owner);
  await owner.goto("/settings/workspace");
  await hydrated(owner);
  const row = owner.getByRole("row").filter({ hasText: email });
  await row.getByRole("button", { name: "Remove" }).click();
  await row.getByRole("button", { name: `Remove ${email}` }).click();
  await expect(owner.getByRole("row").filter({ hasText: email })).toHaveCount(0);
  await owner.close();

  await expect(page.getByRole("alert").filter({ hasText: "Your access to this workspace has ended" })).toBeVisible({ timeout: 10_000 });
  await page.screenshot({ path: "test-results/screenshots/access-ended.png" });
  await page.getByRole("link", { name: "Reload" }).click();
  await expect(page).toHaveURL(/\/login/);
});
