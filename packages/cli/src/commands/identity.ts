// ztsh identity export: the current key and certificate for tools that want
// files (PEM) or an importable bundle (PKCS#12, passphrase-protected).
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import { resolveProxy, type CliContext } from '../context.ts';
import { toPkcs12 } from '../identity/p12.ts';
import { readSecret } from '../prompt.ts';

export interface ExportOptions {
  proxy?: string;
  format: string;
  out?: string;
  passphraseFile?: string;
}

export async function exportIdentity(ctx: CliContext, options: ExportOptions): Promise<void> {
  const proxy = resolveProxy(ctx, options.proxy);
  const profile = ctx.home.readProfile(proxy);
  if (!profile) throw new CliError(`not logged in to ${proxy.origin}`, `run ztsh login --proxy ${proxy.origin}`);
  if (options.format === 'pem') {
    const pem = profile.certPem + profile.keyPem;
    if (options.out) {
      writeFileSync(options.out, pem, { mode: 0o600 });
      ctx.stderr(`Wrote certificate and private key to ${options.out} (mode 0600).\n`);
    } else {
      ctx.stdout(pem);
    }
    return;
  }
  if (options.format !== 'p12') throw new CliError(`unknown --format "${options.format}"`, 'use pem or p12', 2);
  if (!options.out) throw new CliError('--out is required for --format p12', 'e.g. --out alice.p12', 2);
  const passphrase = options.passphraseFile
    ? readFileSync(options.passphraseFile, 'utf8').replace(/\r?\n$/, '')
    : await askPassphrase(ctx);
  if (!passphrase) throw new CliError('the passphrase must not be empty', undefined, 2);
  const der = toPkcs12({
    certificatePem: profile.certPem,
    privateKeyPem: profile.keyPem,
    caCertificatePems: [profile.userCaPem],
    passphrase,
    friendlyName: `ztsh ${profile.meta.user}@${proxy.host}`,
  });
  writeFileSync(options.out, der, { mode: 0o600 });
  ctx.stderr(`Wrote ${options.out} (PKCS#12, mode 0600). It holds your private key: keep it safe, delete it when done.\n`);
}

async function askPassphrase(ctx: CliContext): Promise<string> {
  if (!ctx.isTty) throw new CliError('no terminal to ask for a passphrase', 'pass --passphrase-file FILE', 2);
  const first = await readSecret('Passphrase for the PKCS#12 file: ');
  const second = await readSecret('Repeat passphrase: ');
  if (first !== second) throw new CliError('the passphrases do not match', undefined, 2);
  return first;
}
