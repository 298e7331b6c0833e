import { expect, test } from "@playwright/test";
import { hydrated, logIn } from "./helpers";

test.use({ viewport: { width: 390, height: 844 } });

test("a phone-width screen: no sideways scrolling, the dialog fits", async ({ page }) => {
  await logIn(page);
  await page.goto("/data/orders");
  await hydrated(page);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(await overflow()).toBeLessThanOrEqual(0);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  const box = (await dialog.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await page.screenshot({ path: "test-results/screenshots/phone-export-dialog.png" });
  await page.keyboard.press("Escape");
  await page.goto("/exports");
  await expect(page.getByRole("heading", { name: "Exports" })).toBeVisible();
  expect(await overflow()).toBeLessThanOrEqual(0);
  await page.screenshot({ path: "test-results/screenshots/phone-exports-page.png", fullPage: true });
});
