import { expect, test } from "@playwright/test";
import * as fs from "fs";
import { hydrated, logIn } from "./helpers";

test("export filtered orders as CSV and download the file", async ({ page }) => {
  await logIn(page);
  await page.goto("/data/orders?status=paid");
  await hydrated(page);
  const count = Number(await page.getByTestId("row-count").getAttribute("data-count"));
  expect(count).toBeGreaterThan(0);

  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog", { name: "Export orders" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("group", { name: "Rows" }).getByLabel("Status")).toHaveValue("paid");
  await expect(dialog.getByText(`${count} rows match`)).toBeVisible();
  await dialog.getByLabel("UTF-8 BOM for Excel").check();
  await page.screenshot({ path: "test-results/screenshots/export-dialog.png" });
  await dialog.getByRole("button", { name: "Start export" }).click();

  await expect(page).toHaveURL(/export=[0-9a-f-]{36}/);
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  await expect(dialog.getByTestId("export-rows")).toHaveText(String(count));
  await page.screenshot({ path: "test-results/screenshots/export-dialog-completed.png" });

  const [download] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("link", { name: "Download" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^orders-\d{8}-\d{6}\.csv$/);
  const text = fs.readFileSync((await download.path())!, "utf8");
  expect(text.startsWith("\ufeffID,Order number,Customer,")).toBeTruthy();
  // Header + one line per row (fields with line breaks are quoted, so count records by the id column).
  const records = text.split("\r\n").filter((line) => /^\d+,ORD-/.test(line));
  expect(records.length).toBe(count);

  // Reloading shows the same finished export, from the server.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("dialog").getByText("Your file is ready.")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page).not.toHaveURL(/export=/);
});

test("export as JSON; bad filters are explained next to the field", async ({ page }) => {
  await logIn(page);
  await page.goto("/data/contacts");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("JSON", { exact: true }).check();
  await dialog.getByLabel("Created from").fill("2025-06-01");
  await dialog.getByLabel("Created to").fill("2025-01-01");
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.locator("#filters-created_to-error")).toHaveText("the range ends before it starts");
  await page.screenshot({ path: "test-results/screenshots/export-dialog-error.png" });

  await dialog.getByLabel("Created to").fill("2025-06-30");
  await expect(dialog.getByText(/^\d+ rows match$/)).toBeVisible();
  const matching = Number((await dialog.getByText(/^\d+ rows match$/).textContent())!.split(" ")[0]);
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  const [download] = await Promise.all([page.waitForEvent("download"), dialog.getByRole("link", { name: "Download" }).click()]);
  const rows = JSON.parse(fs.readFileSync((await download.path())!, "utf8"));
  expect(rows.length).toBe(matching);
  for (const row of rows) {
    expect(row.created_at >= "2025-06-01" && row.created_at < "2025-07-01").toBeTruthy();
  }

  // The exports page lists it.
  await page.goto("/exports");
  await expect(page.getByRole("heading", { name: "Exports" })).toBeVisible();
  await expect(page.locator("tr[data-status=completed]").first()).toBeVisible();
  await page.screenshot({ path: "test-results/screenshots/exports-page.png", fullPage: true });
});

test("an export finished in another tab shows a notice here", async ({ context, page }) => {
  await logIn(page);
  const other = await context.newPage();
  await other.goto("/data/contacts");
  await hydrated(other);
  await other.waitForTimeout(1000); // its event stream is connected

  await page.goto("/data/transactions?status=failed");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start export" }).click();
  await expect(page.getByRole("dialog").getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });

  const notice = other.getByRole("status").filter({ hasText: "Your transactions export is ready." });
  await expect(notice).toBeVisible();
  await other.screenshot({ path: "test-results/screenshots/export-notice.png" });
  const [download] = await Promise.all([other.waitForEvent("download"), notice.getByRole("link", { name: "Download" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^transactions-.*\.csv$/);
  await notice.getByRole("button", { name: "Dismiss" }).click();
  await expect(notice).toHaveCount(0);
  // The tab that follows the job in its dialog shows no notice of its own.
  await expect(page.getByRole("status").filter({ hasText: "export is ready" })).toHaveCount(0);
});
