// The answer when a cluster needs a session MFA check and there is nobody to
// ask: CI jobs, scripts, kubectl with its stdin redirected. One line naming
// the command that makes a certificate the plugin then uses, given at once:
// never a prompt nobody can answer.
import { CliError } from '../cli-error.ts';

export function sessionMfaRefusal(cluster: string): CliError {
  return new CliError(
    `cluster "${cluster}" needs a fresh second factor (session MFA) and there is no terminal to ask on: ` +
      `run "ztsh kube mfa --clusters ${cluster}" in a terminal first, then run this again`,
  );
}
