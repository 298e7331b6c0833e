import { expect, Page } from "@playwright/test";

export const DEMO_EMAIL = "ada@acme.example";
export const DEMO_PASSWORD = "egress-demo-2024";

/** Waits until the page's WebAssembly has hydrated it (the body gets data-hydrated). */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated]")).toHaveCount(1);
}

export async function logIn(page: Page, email = DEMO_EMAIL, password = DEMO_PASSWORD) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Your data" })).toBeVisible();
}

export function uniqueEmail(prefix: string) {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}
