import { expect, test } from "@playwright/test";
import { DEMO_EMAIL, hydrated, logIn, uniqueEmail } from "./helpers";

test("signed-out visitors are sent to the login page and back", async ({ page }) => {
  await page.goto("/data/orders?status=paid");
  await expect(page).toHaveURL(/\/login\?next=\/data\/orders%3Fstatus%3Dpaid$/);
  await hydrated(page);
  await page.getByLabel("Email").fill(DEMO_EMAIL);
  await page.getByLabel("Password", { exact: true }).fill("egress-demo-2024");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/data\/orders\?status=paid$/);
  await expect(page.getByRole("heading", { name: "Orders" })).toBeVisible();
});

test("sign up, log out, log in again", async ({ page }) => {
  const email = uniqueEmail("signup");
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Workspace name").fill("Playwright Ltd");
  await page.getByLabel("Your name").fill("Pat Wright");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("a very good password");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page.getByRole("heading", { name: "Your data" })).toBeVisible();
  await expect(page.locator(".workspace")).toHaveText("Playwright Ltd");
  await expect(page.locator(".who")).toHaveText("Pat Wright");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);

  await logIn(page, email, "a very good password");
  await expect(page.locator(".who")).toHaveText("Pat Wright");
});

test("a wrong password gets a generic message", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(DEMO_EMAIL);
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("That email and password do not match an account.");

  // An unknown email gets exactly the same words.
  await page.getByLabel("Email").fill(uniqueEmail("nobody"));
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("That email and password do not match an account.");
  await expect(page).toHaveURL(/\/login/);
});

test("sign-up problems are named", async ({ page }) => {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Workspace name").fill("Short Password Inc");
  await page.getByLabel("Your name").fill("Sam");
  await page.getByLabel("Email").fill(uniqueEmail("short"));
  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toHaveText("password: use at least 10 characters");
});

test("the password toggle works once hydrated", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  const password = page.getByLabel("Password", { exact: true });
  await expect(password).toHaveAttribute("type", "password");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(password).toHaveAttribute("type", "text");
  await page.getByRole("button", { name: "Hide" }).click();
  await expect(password).toHaveAttribute("type", "password");
});

test("a user of two workspaces can switch", async ({ page }) => {
  await logIn(page);
  await expect(page.getByLabel("Workspace")).toHaveValue(/\d+/);
  const acme = await page.getByLabel("Workspace").inputValue();
  // A switch reloads the page once the server has it: wait for that reload, or the next
  // switch can be cut off by it.
  await Promise.all([page.waitForEvent("load"), page.getByLabel("Workspace").selectOption({ label: "Globex" })]);
  await hydrated(page);
  await expect(page.getByLabel("Workspace")).not.toHaveValue(acme);
  await expect(page.locator("#workspace-switch option:checked")).toHaveText("Globex");
  // Switch back so other tests see Acme.
  await Promise.all([page.waitForEvent("load"), page.getByLabel("Workspace").selectOption({ label: "Acme Corp" })]);
  await hydrated(page);
  await expect(page.locator("#workspace-switch option:checked")).toHaveText("Acme Corp");
});
