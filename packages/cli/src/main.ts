// ztsh: the command line for engineers and auditors.
import { Command, Option } from 'commander';
import { CliError, formatCliError } from './cli-error.ts';
import { defaultContext } from './context.ts';
import { exportIdentity } from './commands/identity.ts';
import { login, VERSION } from './commands/login.ts';
import { kubeCredentials, kubeLogin, kubeLs } from './commands/kube.ts';
import { logout } from './commands/logout.ts';
import { status } from './commands/status.ts';

const ctx = defaultContext(process.env);
const program = new Command('ztsh')
  .description('Log in once with SSO and a second factor; reach Kubernetes through the ztsh proxy.')
  .version(VERSION)
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('login')
  .description('sign in with your identity provider and a second factor; stores a short-lived certificate')
  .option('--proxy <url>', 'the proxy address, e.g. https://access.example.com (default: the current profile)')
  .option('--connector <name>', 'which identity provider connector to use (default: the server\'s default)')
  .option('--ttl <duration>', 'requested certificate lifetime, e.g. 4h (capped by your roles; default 8h)')
  .option('--no-browser', 'print the login URL instead of opening a browser')
  .option('--headless', 'device-code login: approve from a browser on any machine')
  .option('--ca-file <file>', 'trust this CA for the proxy\'s TLS certificate (and remember it)')
  .option('--timeout <duration>', 'how long to wait for the browser, e.g. 90s or 5m', '5m')
  .action((options) => login(ctx, options));

program
  .command('status')
  .description('show who you are logged in as, your roles and when the certificate expires')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
  .action((options) => status(ctx, options));

program
  .command('logout')
  .description('remove the key and certificate for a proxy from this machine')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .action((options) => logout(ctx, options));

const identity = program.command('identity').description('work with your certificate and key');
identity
  .command('export')
  .description('write your certificate and key as PEM, or as a passphrase-protected PKCS#12 bundle')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(new Option('--format <format>', 'pem or p12').choices(['pem', 'p12']).default('pem'))
  .option('--out <file>', 'file to write (pem: default standard output; p12: required)')
  .option('--passphrase-file <file>', 'read the PKCS#12 passphrase from a file instead of asking')
  .action((options) => exportIdentity(ctx, options));

const kube = program.command('kube').description('reach Kubernetes clusters through the proxy with plain kubectl');
kube
  .command('ls')
  .description('list the clusters your roles reach, with their labels and whether their agent is online')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
  .action((options) => kubeLs(ctx, options));
kube
  .command('login')
  .description('add a kubeconfig context for a cluster ($KUBECONFIG or ~/.kube/config) and make it current')
  .argument('<cluster>', 'cluster name, as ztsh kube ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .action((cluster, options) => kubeLogin(ctx, cluster, options));
kube
  .command('credentials')
  .description('print an ExecCredential for kubectl (run by kubectl, from the kubeconfig ztsh kube login writes)')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--cluster <name>', 'the cluster kubectl is calling (informational)')
  .action((options) => kubeCredentials(ctx, options));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(formatCliError(error, Boolean(process.env.ZTSH_DEBUG)));
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
}
