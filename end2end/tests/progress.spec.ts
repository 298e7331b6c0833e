import { APIRequestContext, expect, Page, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { hydrated, logIn } from "./helpers";

// The e2e server reads at most 400 rows a second per export, so a 2,000-row export takes
// about five seconds: long enough to watch, cancel and reload.

async function cancelRunning(request: APIRequestContext) {
  const active = async () =>
    (await (await request.get("/api/exports?per_page=100")).json()).exports.filter(
      (job: { status: string }) => job.status === "pending" || job.status === "processing",
    );
  for (const job of await active()) {
    await request.delete(`/api/exports/${job.id}`);
  }
  // A cancel takes effect at the worker's next batch; the next test needs free slots.
  await expect.poll(async () => (await active()).length, { timeout: 15_000 }).toBe(0);
}

async function startFromDialog(page: Page, path: string) {
  await page.goto(path);
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start export" }).click();
  await expect(page).toHaveURL(/export=/);
}

test.beforeEach(async ({ page }) => {
  await logIn(page);
  await cancelRunning(page.request);
});

test.afterEach(async ({ page }) => {
  await cancelRunning(page.request);
});

test("the bar moves, a reload picks up where the export is, and it reaches 100 %", async ({ page }) => {
  await startFromDialog(page, "/data/orders");
  const bar = page.getByRole("progressbar", { name: "Export progress" });
  await expect(bar).toBeVisible();
  await expect
    .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 10_000 })
    .toBeGreaterThan(0);
  const before = Number(await bar.getAttribute("aria-valuenow"));
  expect(before).toBeLessThan(100);
  await page.screenshot({ path: "test-results/screenshots/export-dialog-progress.png" });

  await page.reload();
  await hydrated(page);
  const after = page.getByRole("dialog").getByRole("progressbar", { name: "Export progress" });
  await expect(after).toBeVisible();
  expect(Number(await after.getAttribute("aria-valuenow"))).toBeGreaterThanOrEqual(before);
  await expect(page.getByRole("dialog").getByText(/of 2000 rows/)).toBeVisible();

  await expect(page.getByRole("dialog").getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("dialog").getByTestId("export-rows")).toHaveText("2000");
});

test("cancel a running export", async ({ page }) => {
  await startFromDialog(page, "/data/transactions");
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("progressbar")).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel export" }).click();
  await expect(dialog.getByText("The export was cancelled.")).toBeVisible({ timeout: 15_000 });
  await page.screenshot({ path: "test-results/screenshots/export-dialog-cancelled.png" });
});

test("a fourth export at once explains the limit", async ({ page }) => {
  for (let i = 0; i < 3; i++) {
    const response = await page.request.post("/api/exports", { data: { dataset: "contacts", format: "csv" } });
    expect(response.status()).toBe(202);
  }
  await page.goto("/data/orders");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Start export" }).click();
  const alert = dialog.getByRole("alert");
  await expect(alert).toContainText("This workspace already has 3 exports running.");
  await page.screenshot({ path: "test-results/screenshots/export-dialog-limit.png" });
  await alert.getByRole("link", { name: "See the running exports" }).click();
  await expect(page).toHaveURL(/\/exports$/);
  await expect(page.locator("tr[data-status=processing], tr[data-status=pending]")).toHaveCount(3);
});

test("a failed export says why, and Retry runs it again", async ({ page }) => {
  test.skip(!process.env.EGRESS_TEST_S3_ENDPOINT, "needs the test S3 server that `make test` starts");
  const services = (action: string) => execFileSync("../scripts/services.sh", [action], { stdio: "inherit" });
  const dialog = page.getByRole("dialog");
  services("stop-s3");
  try {
    await startFromDialog(page, "/data/members");
    await expect(dialog.getByText("The export failed.")).toBeVisible({ timeout: 45_000 });
    await expect(dialog.getByRole("alert")).toContainText("Egress could not reach its file storage.");
    await page.screenshot({ path: "test-results/screenshots/export-dialog-failed.png" });
  } finally {
    services("start-s3");
  }
  const failedUrl = page.url();
  await dialog.getByRole("button", { name: "Retry" }).click();
  await expect(page).not.toHaveURL(failedUrl);
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 30_000 });
  await expect(dialog.getByTestId("export-rows")).not.toHaveText("0");
});
