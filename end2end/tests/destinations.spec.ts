import { expect, test } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { hydrated, logIn } from "./helpers";

const endpoint = process.env.EGRESS_TEST_S3_ENDPOINT;
const root = process.env.EGRESS_TEST_S3_ROOT;

test("add a destination, test its connection, and deliver an export there with its manifest", async ({ page }) => {
  test.skip(!endpoint || !root, "needs the test S3 server (make test starts it)");
  const stamp = Date.now();
  const name = `Warehouse ${stamp}`;
  await logIn(page);
  await page.goto("/settings/destinations");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Endpoint (empty for Amazon S3)").fill(endpoint!);
  await page.getByLabel("Bucket", { exact: true }).fill(process.env.EGRESS_TEST_S3_BUCKET!);
  await page.getByLabel("Prefix", { exact: true }).fill(`e2e-${stamp}/{dataset}/`);
  await page.getByLabel("Access key id").fill(process.env.EGRESS_TEST_S3_ACCESS_KEY!);
  await page.getByLabel("Secret access key").fill(process.env.EGRESS_TEST_S3_SECRET_KEY!);
  await page.getByRole("button", { name: "Add destination" }).click();
  const card = page.getByRole("article", { name: `Destination ${name}` });
  await expect(card).toContainText(`e2e-${stamp}/{dataset}/`);
  await card.getByRole("button", { name: `Test the connection to ${name}` }).click();
  await expect(page.getByTestId("destination-test")).toContainText("Wrote and deleted");

  await page.goto("/data/contacts");
  await hydrated(page);
  await page.getByRole("button", { name: "Export…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Deliver to").selectOption({ label: `Egress and ${name}` });
  await dialog.getByRole("button", { name: "Start export" }).click();
  await expect(dialog.getByText("Your file is ready.")).toBeVisible({ timeout: 60_000 });

  // The file and its manifest arrive in the bucket; the destination lists the delivery.
  const folder = path.join(root!, process.env.EGRESS_TEST_S3_BUCKET!, `e2e-${stamp}`, "contacts");
  const files = () => (fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => !f.startsWith(".")).sort() : []);
  await expect.poll(files, { timeout: 30_000 }).toHaveLength(2);
  const [file, manifestName] = files();
  expect(manifestName).toBe(`${file}.manifest.json`);
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, manifestName), "utf8"));
  expect(manifest.bytes).toBe(fs.statSync(path.join(folder, file)).size);
  expect(manifest.dataset).toBe("contacts");
  await page.goto("/settings/destinations");
  await expect(page.getByRole("region", { name: `Deliveries to ${name}` })).toContainText("delivered");
});
