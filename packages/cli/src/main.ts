// ztsh: the command line for engineers and auditors.
// @peculiar/x509 resolves its services through tsyringe, which needs the
// Reflect metadata API loaded before it is imported.
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { CliError, formatCliError } from './cli-error.ts';
import { exitOnClosedPipe } from './closed-pipe.ts';
import { defaultContext } from './context.ts';
import { exportIdentity } from './commands/identity.ts';
import { login, VERSION } from './commands/login.ts';
import { kubeCredentials, kubeLogin, kubeLs, kubeMfa } from './commands/kube.ts';
import { logout } from './commands/logout.ts';
import { status } from './commands/status.ts';
import { auditExport, auditSearch, auditVerify } from './commands/audit.ts';
import { lockAdd, lockLs, lockRm } from './commands/lock.ts';
import { requestCreate, requestDrop, requestLs, requestReview, requestShow } from './commands/request.ts';
import { play, recordingsLs, recordingsSearch } from './commands/recordings.ts';

exitOnClosedPipe(process.stdout);
exitOnClosedPipe(process.stderr);
const ctx = defaultContext(process.env);
/** A repeatable option's values, in order. */
const collect = (value: string, previous: string[] = []) => [...previous, value];
const program = new Command('ztsh')
  .description('Log in once with SSO and a second factor; reach Kubernetes through the ztsh proxy.')
  .version(VERSION)
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  // Throw instead of exiting, here and in every subcommand (they inherit it): usage errors exit 2 below.
  .exitOverride();

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
  .option('--request-id <id>', 'no sign-in: re-issue the current certificate, same key, with the roles of this approved access request (repeat for more)', collect)
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
  .option(
    '--exec-plugin',
    'make kubectl run "ztsh kube credentials" before each command, instead of reading the certificate file ztsh login keeps ' +
      '(the default, which starts no process and is as fast as kubectl alone); for setups that need ztsh to run on each command. ' +
      'A cluster that requires session MFA always gets the plugin, which asks for a code on the terminal when no check is fresh',
  )
  .action((cluster, options) => kubeLogin(ctx, cluster, options));
kube
  .command('mfa')
  .description(
    'per-session MFA: type one code from your authenticator app (or confirm with your security key in the browser) and get ' +
      'a short certificate that kubectl uses for every cluster it names, for the interval your roles set (default 1h)',
  )
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--clusters <a,b>', 'the clusters to cover, comma-separated (default: every cluster you reach that requires session MFA)')
  .addOption(
    new Option('--method <method>', 'the second factor to use (default: totp when you have it and a terminal, else webauthn)').choices(['totp', 'webauthn']),
  )
  .option('--no-browser', 'security key: print the page\'s URL instead of opening a browser (also ZTSH_NO_BROWSER=1)')
  .option('--timeout <duration>', 'security key: how long to wait for the browser, e.g. 90s or 5m', '5m')
  .action((options) => kubeMfa(ctx, options));
kube
  .command('credentials')
  .description('print an ExecCredential for kubectl (run by kubectl, from the kubeconfig ztsh kube login writes)')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--cluster <name>', 'the cluster kubectl is calling (informational, except with --session-mfa)')
  .option(
    '--session-mfa',
    'the cluster requires session MFA: present the session certificate that covers it, or ask for a code on the terminal ' +
      'kubectl passes through (none: one line saying to run ztsh kube mfa)',
  )
  .action((options) => kubeCredentials(ctx, options));

const formatOption = () => new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');
const since = 'from this time: ISO 8601 (2026-11-23T10:00:00Z), a date, or a span back from now (30m, 24h, 7d)';

const audit = program.command('audit').description('search, verify and export the audit log (needs a role with the audit permission)');
audit
  .command('search')
  .description('find audit events, newest first: kube requests, sessions, logins, certificates, joins, locks')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--user <user>', 'events of this user')
  .option('--cluster <name>', 'events on this cluster')
  .option('--type <type>', 'an event type (kube.request, session.start, user.login…) or a prefix ending in "." or "*"')
  .addOption(new Option('--outcome <outcome>', 'only allowed or only refused').choices(['success', 'failure']))
  .option('--session <id>', 'events of one session')
  .option('--request <id>', 'steps of one access request and everything done under it')
  .option('--since <time>', since)
  .option('--until <time>', 'before this time (same forms as --since)')
  .option('--query <text>', 'words or a phrase in the event: a command, a resource name, a message')
  .option('--limit <n>', 'show at most this many', '100')
  .addOption(formatOption())
  .action((options) => auditSearch(ctx, options));
audit
  .command('verify')
  .description('check the hash chain of the whole audit log; names the first event that was edited or deleted')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(formatOption())
  .action((options) => auditVerify(ctx, options));
audit
  .command('export')
  .description('print audit events as JSON lines, oldest first, for a SIEM or log pipeline')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--after <seq>', 'start after this event number', '0')
  .option('--follow', 'keep running and print new events as they are written')
  .action((options) => auditExport(ctx, options));

const recordingOptions = (cmd: Command) =>
  cmd
    .option('--proxy <url>', 'which profile (default: the current one)')
    .option('--user <user>', 'sessions of this user')
    .option('--cluster <name>', 'sessions on this cluster')
    .addOption(new Option('--kind <kind>', 'one kind of session').choices(['exec', 'attach', 'cp', 'portforward']))
    .option('--since <time>', since)
    .option('--until <time>', 'started before this time (same forms as --since)')
    .option('--limit <n>', 'show at most this many', '50')
    .addOption(formatOption());
const recordings = program.command('recordings').description('recorded exec, attach, cp and port-forward sessions (needs the audit permission)');
recordingOptions(recordings.command('ls').description('list sessions, newest first')).action((options) => recordingsLs(ctx, options));
recordingOptions(
  recordings
    .command('search')
    .description('find sessions by what was typed or shown in them, or by their command')
    .argument('<text>', 'words or a phrase, e.g. "rm -rf"'),
).action((text, options) => recordingsSearch(ctx, text, options));

program
  .command('play')
  .description('replay a recorded session in this terminal with its original timing')
  .argument('<session-id>', 'as ztsh recordings ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--speed <n>', 'play this many times faster', '1')
  .option('--max-idle <seconds>', 'cut pauses longer than this')
  .addOption(new Option('--format <format>', 'play: replay with timing; text: print the output at once; asciicast: print the asciicast v2 file').choices(['play', 'text', 'asciicast']).default('play'))
  .action((id, options) => play(ctx, id, options));

const request = program.command('request').description('ask for more access for a while (a role, or single pods), and review others\' requests');
request
  .command('create')
  .description('ask for roles or single pods for a while; someone whose roles may review it approves or denies')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--roles <roles>', 'roles to ask for, comma-separated (e.g. prod-admin)', collect)
  .option('--resource <resource>', 'a single pod to ask for, as /<cluster>/pod/<namespace>/<name> (repeat for more)', collect)
  .option('--reason <text>', 'why you need it, e.g. an incident or ticket (required)')
  .option('--duration <duration>', 'how long the access lasts once approved, e.g. 30m, 2h, 3d (default: the longest your roles allow)')
  .addOption(formatOption())
  .action((options) => requestCreate(ctx, options));
request
  .command('ls')
  .description('list your requests and those you may review, newest first')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(new Option('--state <state>', 'only requests in this state').choices(['pending', 'approved', 'denied', 'dropped', 'expired']))
  .addOption(formatOption())
  .action((options) => requestLs(ctx, options));
request
  .command('show')
  .description('show one request: what it asks for, why, its reviews and its end')
  .argument('<request-id>', 'as ztsh request ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(formatOption())
  .action((id, options) => requestShow(ctx, id, options));
request
  .command('review')
  .description('approve or deny someone else\'s request (needs a role that may review it)')
  .argument('<request-id>', 'as ztsh request ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--approve', 'approve it')
  .option('--deny', 'deny it')
  .option('--reason <text>', 'why (required; the requester and the audit log see it)')
  .addOption(formatOption())
  .action((id, options) => requestReview(ctx, id, options));
request
  .command('drop')
  .description('withdraw a request of yours')
  .argument('<request-id>', 'as ztsh request ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(formatOption())
  .action((id, options) => requestDrop(ctx, id, options));

const lock = program.command('lock').description('lock a user or a role out at once: refuses requests and new certificates, ends live sessions (needs the admin permission)');
lock
  .command('add')
  .description('add a lock')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .option('--user <user>', 'lock this user')
  .option('--role <role>', 'lock everyone holding this role')
  .option('--access-request <id>', 'lock every certificate re-issued under this access request (ztsh login --request-id)')
  .option('--ttl <duration>', 'lift the lock by itself after this long, e.g. 1h (default: until removed)')
  .option('--message <text>', 'shown to the locked user, and kept in the audit log')
  .addOption(formatOption())
  .action((options) => lockAdd(ctx, options));
lock
  .command('ls')
  .description('list the locks in force')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .addOption(formatOption())
  .action((options) => lockLs(ctx, options));
lock
  .command('rm')
  .description('remove a lock')
  .argument('<lock-id>', 'as ztsh lock ls shows it')
  .option('--proxy <url>', 'which profile (default: the current one)')
  .action((id, options) => lockRm(ctx, id, options));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander has said what is wrong (or shown the help or version asked for).
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(formatCliError(error, Boolean(process.env.ZTSH_DEBUG)));
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
