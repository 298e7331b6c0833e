import AxeBuilder from "@axe-core/playwright";
import { expect, Page, test } from "@playwright/test";
import { hydrated, logIn } from "./helpers";

// An automated accessibility audit (axe-core, WCAG 2.1 A and AA rules) of every page a
// user meets and of the export dialog in its states. Keyboard behaviour (focus trap,
// Escape) is checked by hand in export.spec.ts; axe checks names, roles, contrast,
// landmarks and the like.

async function audit(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const problems = results.violations.map(
    (v) => `${what}: ${v.id} (${v.impact}) ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ")).join("\n    ")}`,
  );
  expect(problems, problems.join("\n")).toEqual([]);
}

test("the login and sign-up pages pass the audit", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await audit(page, "login");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await audit(page, "login with an error");
  await page.goto("/signup");
  await hydrated(page);
  await audit(page, "sign-up");
});

test("the data pages, the export dialog and the exports page pass the audit", async ({ page }) => {
  await logIn(page);
  await audit(page, "home");
  await page.goto("/data/contacts?status=active");
  await hydrated(page);
  await audit(page, "contacts page");

  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await audit(page, "export dialog");
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.getByRole("progressbar")).toBeVisible();
  await audit(page, "export dialog, running");
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  await audit(page, "export dialog, completed");

  await page.goto("/exports");
  await hydrated(page);
  await audit(page, "exports page");

  await page.goto("/settings/tokens");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await audit(page, "API tokens page");

  await page.goto("/settings/webhooks");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();
  await audit(page, "webhooks page");

  await page.goto("/settings/destinations");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Destinations" })).toBeVisible();
  await audit(page, "destinations page");

  await page.goto("/schedules");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Schedules" })).toBeVisible();
  await audit(page, "schedules page");

  await page.goto("/settings/workspace");
  await hydrated(page);
  await expect(page.getByTestId("retention")).toContainText("24 hours");
  await audit(page, "workspace settings page");
});
