import { expect, test } from "@playwright/test";
import { logIn } from "./helpers";

test("browse a dataset with filters kept in the URL", async ({ page }) => {
  await logIn(page);
  await page.getByRole("navigation", { name: "Datasets" }).getByRole("link", { name: "Orders" }).click();
  await expect(page).toHaveURL(/\/data\/orders$/);
  const count = page.getByTestId("row-count");
  await expect(count).toHaveAttribute("data-count", /^\d+$/);
  const all = Number(await count.getAttribute("data-count"));
  expect(all).toBeGreaterThan(50);
  await expect(page.locator("table.data tbody tr")).toHaveCount(50);

  // Applying the filter form is a client-side navigation: this marker survives it.
  await page.evaluate(() => ((window as any).__stillHere = true));
  await page.getByLabel("Status").selectOption("paid");
  await page.getByLabel("Created from").fill("2024-06-01");
  await page.getByLabel("Created to").fill("2024-12-31");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/status=paid/);
  await expect(page).toHaveURL(/created_from=2024-06-01/);
  await expect(count).not.toHaveAttribute("data-count", String(all));
  expect(await page.evaluate(() => (window as any).__stillHere)).toBe(true);

  const filtered = Number(await count.getAttribute("data-count"));
  expect(filtered).toBeGreaterThan(0);
  expect(filtered).toBeLessThan(all);
  const statuses = await page.locator("table.data tbody tr td:nth-child(10)").allTextContents();
  expect(new Set(statuses)).toEqual(new Set(["paid"]));
  const dates = await page.locator("table.data tbody tr td:last-child time").evaluateAll((els) =>
    els.map((e) => e.getAttribute("datetime") ?? ""),
  );
  for (const d of dates) {
    expect(d >= "2024-06-01" && d < "2025-01-01").toBeTruthy();
  }

  // The URL can be shared: loading it afresh shows the same count.
  const url = page.url();
  await page.goto(url);
  await expect(page.getByTestId("row-count")).toHaveAttribute("data-count", String(filtered));
  await expect(page.getByLabel("Status")).toHaveValue("paid");

  // Keyset paging: older, then newer again.
  if (filtered > 50) {
    const firstId = await page.locator("table.data tbody tr:first-child td:first-child").textContent();
    await page.getByRole("link", { name: "Older →" }).click();
    await expect(page).toHaveURL(/after=\d+/);
    await expect(page.locator("table.data tbody tr:first-child td:first-child")).not.toHaveText(firstId!);
    await page.getByRole("link", { name: "← Newer" }).click();
    await expect(page.locator("table.data tbody tr:first-child td:first-child")).toHaveText(firstId!);
  }
});

test("a bad filter in the URL is explained", async ({ page }) => {
  await logIn(page);
  await page.goto("/data/contacts?status=paid");
  await expect(page.getByRole("alert")).toContainText("status: `paid` is not one of: lead, active, customer, churned");
});
