import { expect, test } from "@playwright/test";
import * as fs from "fs";
import { hydrated, logIn } from "./helpers";

/** Records in a CSV text: line ends outside quoted fields (cells may hold line breaks). */
function csvRecords(text: string) {
  let quoted = false;
  let records = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (!quoted && text[i] === "\n") records++;
  }
  return records;
}

test("create a weekly schedule, run it now, see the run in its history and download it", async ({ page }) => {
  const name = `Weekly orders ${Date.now()}`;
  await logIn(page);
  await page.getByRole("link", { name: "Schedules" }).click();
  await expect(page.getByRole("heading", { name: "Schedules" })).toBeVisible();
  await hydrated(page);

  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Dataset", { exact: true }).selectOption({ label: "Orders" });
  await page.getByLabel("Format", { exact: true }).selectOption("csv");
  await page.getByLabel("Runs", { exact: true }).selectOption("weekly");
  await page.getByLabel("On", { exact: true }).selectOption("monday");
  await page.getByLabel("At (HH:MM)", { exact: true }).fill("09:00");
  await page.getByLabel("Time zone (IANA name)").fill("Europe/Berlin");
  await page.getByRole("button", { name: "Save schedule" }).click();

  const schedule = page.getByRole("article", { name: `Schedule ${name}`, exact: true });
  await expect(schedule).toContainText("Every Monday at 09:00 (Europe/Berlin)");
  await expect(schedule).toContainText("next run");
  await expect(schedule).toContainText("No runs yet.");

  await schedule.getByRole("button", { name: `Run ${name} now`, exact: true }).click();
  const run = schedule.getByRole("row").filter({ hasText: "completed" });
  await expect(run).toBeVisible({ timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent("download"), run.getByRole("link", { name: "Download" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^orders-\d{8}-\d{6}\.csv$/);
  const text = fs.readFileSync((await download.path())!, "utf8");
  expect(text.split("\r\n")[0]).toContain("Order");
  // The rows column of the history counts the file's records (after the header).
  await expect(run).toContainText(String(csvRecords(text) - 1));

  // Edit it: the form fills in, the change is saved, and the history stays.
  await schedule.getByRole("button", { name: `Edit ${name}`, exact: true }).click();
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue(name);
  await expect(page.getByLabel("At (HH:MM)", { exact: true })).toHaveValue("09:00");
  await page.getByLabel("At (HH:MM)", { exact: true }).fill("10:30");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(schedule).toContainText("Every Monday at 10:30 (Europe/Berlin)");
  await expect(schedule.getByRole("row").filter({ hasText: "completed" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Save schedule" })).toBeVisible();

  // A bad cadence is refused with a message naming it, and nothing is saved.
  await page.getByLabel("Name", { exact: true }).fill(`${name} broken`);
  await page.getByLabel("Runs", { exact: true }).selectOption("cron");
  await page.getByLabel("Cron expression (minute hour day month weekday)").fill("every monday");
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByRole("alert")).toContainText("cadence.expression");
  await expect(page.getByRole("article", { name: `Schedule ${name} broken` })).toHaveCount(0);

  // An incremental schedule says so; a dataset without a change column refuses it.
  await page.getByLabel("Name", { exact: true }).fill(`${name} changes`);
  await page.getByLabel("Runs", { exact: true }).selectOption("daily");
  await page.getByLabel("Each run exports only the rows added or changed since the last run").check();
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByRole("article", { name: `Schedule ${name} changes` })).toContainText("orders · changes only");
  await page.getByLabel("Name", { exact: true }).fill(`${name} members`);
  await page.getByLabel("Dataset", { exact: true }).selectOption({ label: "Members" });
  await page.getByRole("button", { name: "Save schedule" }).click();
  await expect(page.getByRole("alert")).toContainText("can only be exported whole");

  await schedule.getByRole("button", { name: `Pause ${name}`, exact: true }).click();
  await expect(schedule).toContainText("paused");
  await schedule.getByRole("button", { name: `Delete ${name}`, exact: true }).click();
  await expect(schedule).toHaveCount(0);
});

test.describe("in Tokyo", () => {
  test.use({ timezoneId: "Asia/Tokyo" });

  test("the schedule form starts in the browser's time zone", async ({ page }) => {
    await logIn(page);
    await page.goto("/schedules");
    await hydrated(page);
    await expect(page.getByLabel("Time zone (IANA name)")).toHaveValue("Asia/Tokyo");
  });
});
