// ztsh recordings ls | search, and ztsh play: find sessions and watch them
// again, in the terminal with their original timing, as text, or as the
// asciicast file (which asciinema plays too).
import { parseAsciicast, RecordingsParams, RecordingsResponse, type SessionInfo } from '@ztsh/protocol';
import { CliError } from '../cli-error.ts';
import { withUserApi, type CliContext } from '../context.ts';
import { localTime } from '../local-time.ts';
import { checkTimeOptions, sessionOption } from '../query-options.ts';
import { formatTable } from '../table.ts';
import { ReplayFilter, recordedText } from '../recorded-output.ts';
import { safeJson, safeJsonText } from '../terminal-safe.ts';
import { checkedQuery, parseLimit } from './audit.ts';

export interface RecordingsOptions {
  proxy?: string;
  user?: string;
  cluster?: string;
  kind?: string;
  since?: string;
  until?: string;
  limit: string;
  format: string;
}

async function findSessions(ctx: CliContext, options: RecordingsOptions, text?: string): Promise<SessionInfo[]> {
  const want = parseLimit(options.limit);
  checkTimeOptions(options);
  return withUserApi(ctx, options.proxy, async (api) => {
    const found: SessionInfo[] = [];
    let before: string | undefined;
    while (found.length < want) {
      const q = checkedQuery(RecordingsParams, {
        user: options.user,
        cluster: options.cluster,
        kind: options.kind,
        since: options.since,
        until: options.until,
        q: text,
        limit: String(Math.min(1000, want - found.length)),
        before,
      });
      const page = await api.call('GET', `/v1/recordings?${q}`, RecordingsResponse);
      found.push(...page.sessions);
      if (!page.next) break;
      before = page.next;
    }
    return found;
  });
}

function printSessions(ctx: CliContext, sessions: SessionInfo[], format: string): void {
  if (format === 'json') {
    ctx.stdout(safeJson(sessions));
    return;
  }
  if (sessions.length === 0) {
    ctx.stdout('No sessions match.\n');
    return;
  }
  const duration = (s: SessionInfo) => {
    if (!s.endedAt) return 'running';
    const sec = Math.round((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000);
    return sec < 60 ? `${sec}s` : sec < 3600 ? `${Math.floor(sec / 60)}m${sec % 60}s` : `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m`;
  };
  const rows = sessions.map((s) => [
    s.id,
    localTime(s.startedAt),
    s.user,
    s.cluster,
    s.kind,
    `${s.namespace}/${s.pod}`,
    duration(s),
    s.exitCode === null ? (s.endReason ?? '-') : String(s.exitCode),
    s.command.join(' ') || '-',
  ]);
  const head = ['SESSION', 'STARTED', 'USER', 'CLUSTER', 'KIND', 'POD', 'DURATION', 'EXIT', 'COMMAND'];
  ctx.stdout(formatTable(head, rows));
}

export async function recordingsLs(ctx: CliContext, options: RecordingsOptions): Promise<void> {
  printSessions(ctx, await findSessions(ctx, options), options.format);
}

export async function recordingsSearch(ctx: CliContext, text: string, options: RecordingsOptions): Promise<void> {
  if (!text.trim()) throw new CliError('give the words to search for', 'ztsh recordings search "rm -rf"', 2);
  printSessions(ctx, await findSessions(ctx, options, text), options.format);
}

export interface PlayOptions {
  proxy?: string;
  speed: string;
  format: string;
  maxIdle?: string;
}

export async function play(ctx: CliContext, sessionId: string, options: PlayOptions, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const speed = Number(options.speed);
  if (!(speed > 0)) throw new CliError(`--speed: "${options.speed}" must be a number above 0`, 'e.g. --speed 2 plays twice as fast', 2);
  const maxIdle = options.maxIdle === undefined ? Infinity : Number(options.maxIdle);
  if (!(maxIdle > 0)) throw new CliError(`--max-idle: "${options.maxIdle}" must be a number of seconds above 0`, undefined, 2);
  // A whole id or a unique prefix (the server resolves it); the checked text is what goes into the path.
  sessionId = sessionOption(sessionId, 'ztsh play');
  const text = await withUserApi(ctx, options.proxy, async (api) => (await api.raw(`/v1/recordings/${sessionId}/cast`, { timeoutMs: 600_000 })).text());
  if (options.format === 'asciicast') {
    // The file as it is, but for characters a terminal may act on, written as the \u escapes they parse back from.
    const file = safeJsonText(text);
    ctx.stdout(file.endsWith('\n') ? file : file + '\n');
    return;
  }
  let cast;
  try {
    cast = parseAsciicast(text);
  } catch (error) {
    throw new CliError(`the recording of ${sessionId} cannot be read: ${(error as Error).message}`, '--format asciicast prints the file as it is');
  }
  if (options.format === 'text') {
    ctx.stdout(recordedText(cast.events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')));
    return;
  }
  // Play: output events at their original times (divided by --speed).
  let clock = 0;
  const screen = new ReplayFilter();
  for (const [at, code, data] of cast.events) {
    if (code !== 'o') continue;
    const wait = Math.min(at - clock, maxIdle) / speed;
    if (wait > 0) await sleep(wait * 1000);
    clock = at;
    ctx.stdout(screen.push(data));
  }
  ctx.stdout(screen.end());
}
