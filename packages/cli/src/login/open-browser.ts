// Opens a URL in the user's browser, best effort: the URL is always printed too.
import { spawn } from 'node:child_process';

export function openBrowser(url: string, env: Record<string, string | undefined>): boolean {
  const command =
    env.BROWSER ?? (process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer.exe' : 'xdg-open');
  try {
    const child = spawn(command, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
