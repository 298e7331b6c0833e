import { expect, test } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { hydrated, logIn } from "./helpers";

async function finishedExport(page: import("@playwright/test").Page) {
  const created = await page.request.post("/api/exports", {
    data: { dataset: "members", format: "csv" },
  });
  expect(created.status()).toBe(202);
  const job = await created.json();
  await expect
    .poll(async () => (await (await page.request.get(`/api/exports/${job.id}`)).json()).status, { timeout: 30_000 })
    .toBe("completed");
  return job.id as string;
}

test("another workspace gets 404 for an export's page, events and download", async ({ browser, page }) => {
  await logIn(page);
  const id = await finishedExport(page);

  const other = await browser.newContext();
  const grace = await other.newPage();
  await logIn(grace, "grace@globex.example");
  for (const url of [`/api/exports/${id}`, `/api/exports/${id}/events`, `/exports/${id}/download`]) {
    const response = await grace.request.get(url, { maxRedirects: 0 });
    expect(response.status(), url).toBe(404);
  }
  await grace.goto(`/data/members?export=${id}`);
  await hydrated(grace);
  await expect(grace.getByRole("dialog").getByRole("alert")).toContainText("There is no such export");
  await other.close();
});

test("the email's link downloads the file after logging in", async ({ browser, page }) => {
  const maildir = process.env.EGRESS_TEST_MAILDIR;
  test.skip(!maildir, "needs the SMTP test server (make test starts it)");
  await logIn(page);
  const id = await finishedExport(page);

  // The worker emails the link; the SMTP server keeps it in its Maildir.
  let mail = "";
  await expect
    .poll(
      () => {
        const dir = path.join(maildir!, "new");
        mail = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).find((m) => m.includes(id)) ?? "";
        return mail.length > 0;
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  const link = mail.match(/https?:\/\/\S+\/exports\/[0-9a-f-]{36}\/download/)![0];

  const fresh = await browser.newContext();
  const visitor = await fresh.newPage();
  await visitor.goto(link);
  await expect(visitor).toHaveURL(/\/login\?next=/);
  await hydrated(visitor);
  await visitor.getByLabel("Email").fill("ada@acme.example");
  await visitor.getByLabel("Password", { exact: true }).fill("egress-demo-2024");
  const [download] = await Promise.all([
    visitor.waitForEvent("download"),
    visitor.getByRole("button", { name: "Log in" }).click(),
  ]);
  const text = fs.readFileSync((await download.path())!, "utf8");
  expect(text.split("\r\n")[0]).toBe("ID,Name,Email,Role,Status,Joined at");
  await fresh.close();
});
