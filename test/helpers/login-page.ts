// Steps a person takes in the browser during `ztsh login`.
import type { Page } from 'playwright-core';
import { totpNow } from './http-login.ts';

export async function signInAtIdp(page: Page, user: { username: string; password: string }): Promise<void> {
  await page.locator('#username').fill(user.username);
  await page.locator('#password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function enterTotp(page: Page, secret: string): Promise<void> {
  await page.locator('#code').fill(totpNow(secret));
  await page.getByRole('button', { name: /Verify|Confirm/ }).click();
}
