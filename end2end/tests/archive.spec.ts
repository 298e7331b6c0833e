import { expect, test } from "@playwright/test";
import { execFileSync } from "child_process";
import { DEMO_EMAIL, hydrated, logIn } from "./helpers";

/** A file of a zip on disk, as text (Python's zipfile is the independent reader). */
function unzip(path: string, name: string): string {
  return execFileSync("python3", ["-c", "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())", path, name], {
    encoding: "utf8",
  });
}

function names(path: string): string[] {
  return execFileSync("python3", ["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", path], { encoding: "utf8" })
    .trim()
    .split("\n");
}

test("request all my data and open the archive's README", async ({ page }) => {
  await logIn(page);
  await page.getByRole("link", { name: "Exports" }).click();
  await expect(page.getByRole("heading", { name: "Exports" })).toBeVisible();
  await hydrated(page);

  await page.getByText("All my data, in one archive").click();
  await page.getByLabel("Format of each file").selectOption("json");
  await page.getByRole("button", { name: "Everything about me" }).click();
  await expect(page.getByRole("status")).toContainText("Archive requested");

  const row = page.getByRole("row").filter({ hasText: "All my data" }).filter({ hasText: "completed" }).first();
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).toContainText(`the records about ${DEMO_EMAIL}`);
  const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("link", { name: "Download" }).click()]);
  expect(download.suggestedFilename()).toMatch(/^my-data-\d{8}-\d{6}\.zip$/);
  const path = (await download.path())!;

  // The datasets that hold records of a person, then the data dictionary and the manifest.
  expect(names(path)).toEqual(["contacts.json", "orders.json", "members.json", "README.md", "manifest.json"]);
  const readme = unzip(path, "README.md");
  expect(readme).toContain(`# Everything about ${DEMO_EMAIL}`);
  expect(readme).toContain("## Contacts (`contacts.json`)");
  expect(readme).toContain("| Email | `email` | text |");
  // Ada's own membership is the one member row about her.
  const members = JSON.parse(unzip(path, "members.json"));
  expect(members).toHaveLength(1);
  expect(JSON.stringify(members[0])).toContain(DEMO_EMAIL);
  const manifest = JSON.parse(unzip(path, "manifest.json"));
  expect(manifest.files.map((f: { file: string }) => f.file)).toEqual(["contacts.json", "orders.json", "members.json"]);
});
