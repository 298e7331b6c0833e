import { expect, Page, test } from "@playwright/test";
import { hydrated, logIn, uniqueEmail } from "./helpers";

// What a user sees of Egress's defences: the hydrated app runs under its
// Content-Security-Policy, the login form explains the throttle, and roles decide what
// is shown.

/** Collects Content-Security-Policy violations the page reports, from its first script on. */
async function watchCsp(page: Page) {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const seen = ((window as any).__csp ??= []);
      seen.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return async () => [...violations, ...((await page.evaluate(() => (window as any).__csp)) ?? [])];
}

test("the app hydrates and runs an export with no policy violation", async ({ page }) => {
  const violations = await watchCsp(page);
  const response = await page.goto("/login");
  expect(response?.headers()["content-security-policy"]).toContain("'strict-dynamic'");
  await hydrated(page);
  await logIn(page);
  await page.goto("/data/orders");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.getByRole("progressbar")).toBeVisible();
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  await page.goto("/exports");
  await hydrated(page);
  expect(await violations()).toEqual([]);
});

test("too many wrong passwords are explained in the login form", async ({ page }) => {
  const email = uniqueEmail("throttled");
  // Ten failures for one account (the server's limit), as a script would make them.
  for (let i = 0; i < 10; i++) {
    const r = await page.request.post("/api/session", { data: { email, password: "not the password" } });
    expect(r.status()).toBe(401);
  }
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toContainText(/Too many failed sign-ins\. Try again in \d+ minutes?\./);
  await page.screenshot({ path: "test-results/screenshots/login-throttled.png" });
});

test("a member sees only what a member may use", async ({ browser, page }) => {
  // Grace owns Globex; Ada is a member there.
  const graceContext = await browser.newContext();
  const grace = await graceContext.newPage();
  await logIn(grace, "grace@globex.example");
  const created = await grace.request.post("/api/exports", { data: { dataset: "members", format: "csv" } });
  expect(created.status()).toBe(202);
  const gracesJob = (await created.json()).id as string;

  await logIn(page);
  const nav = page.getByRole("navigation", { name: "Datasets" });
  await expect(nav.getByRole("link", { name: "Members" })).toBeVisible(); // an owner in Acme
  // The switcher acts once the page is hydrated: a choice made before is lost.
  await hydrated(page);
  await page.getByLabel("Workspace").selectOption({ label: "Globex" });
  // The page reloads in Globex, where Ada is a member.
  await expect(nav.getByRole("link", { name: "Members" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Contacts" })).toBeVisible();
  await hydrated(page);

  // The members page explains, and offers no export.
  await page.goto("/data/members");
  await hydrated(page);
  await expect(page.getByRole("alert")).toHaveText("Members can only be seen by the workspace's admins and owners.");
  await expect(page.getByRole("button", { name: "Export…" })).toHaveCount(0);
  await page.screenshot({ path: "test-results/screenshots/member-members-page.png" });

  // Her own export is listed with its buttons; Grace's is not listed at all.
  const mine = await page.request.post("/api/exports", { data: { dataset: "contacts", format: "csv" } });
  expect(mine.status()).toBe(202);
  const myJob = (await mine.json()).id as string;
  await page.goto("/exports");
  await hydrated(page);
  const rows = page.locator("table.exports-table tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first().getByRole("button", { name: /Cancel|Delete/ })).toBeVisible();
  const direct = await page.request.delete(`/api/exports/${gracesJob}`);
  expect(direct.status()).toBe(403);

  // The owner sees both, and may act on both.
  await grace.goto("/exports");
  await hydrated(grace);
  const graceRows = grace.locator("table.exports-table tbody tr");
  await expect(graceRows).toHaveCount(2);
  await expect(graceRows.getByRole("button", { name: /Cancel|Delete/ })).toHaveCount(2);
  await grace.screenshot({ path: "test-results/screenshots/owner-exports-page.png" });
  for (const id of [gracesJob, myJob]) {
    await grace.request.delete(`/api/exports/${id}`);
  }
  await graceContext.close();
});
