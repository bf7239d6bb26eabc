// A busy engineer in `kubectl exec -it … -- sh`: the terminal is resized, then
// commands are typed one key per message at a fast typist's pace, each
// command's output is awaited (the next prompt), and a short look at it
// follows before the next command. Speaks v5.channel.k8s.io as kubectl does.
import { WebSocket } from 'ws';
import type { StreamTarget } from './exec-stream.ts';

const STDIN = 0;
const STDOUT = 1;
const STATUS = 3;
const RESIZE = 4;
const PROMPT = '# ';

export interface TypingPace {
  /** Keys per second. */
  keysPerSecond: number;
  /** Looking at the output before typing the next command. */
  readMs: number;
}

export interface InteractiveRun {
  commands: number;
  keys: number;
  /** Bytes of stdout the terminal showed (echo, output, prompts). */
  shown: number;
  seconds: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function interactiveSession(target: StreamTarget, namespace: string, pod: string, commands: string[], pace: TypingPace): Promise<InteractiveRun> {
  const query = new URLSearchParams([['command', 'sh'], ['stdin', 'true'], ['stdout', 'true'], ['tty', 'true']]);
  const url = new URL(`api/v1/namespaces/${namespace}/pods/${pod}/exec?${query}`, target.base);
  url.protocol = 'wss:';
  const ws = new WebSocket(url, ['v5.channel.k8s.io'], { perMessageDeflate: false, ...target.options });
  let screen = '';
  let shown = 0;
  let status: string | undefined;
  let waiting: { until: () => boolean; resolve: () => void } | undefined;
  const check = () => {
    if (waiting?.until()) {
      const w = waiting;
      waiting = undefined;
      w.resolve();
    }
  };
  const waitFor = (until: () => boolean) => new Promise<void>((resolve) => {
    waiting = { until, resolve };
    check();
  });
  const closed = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', () => resolve());
  });
  ws.on('message', (data: Buffer) => {
    if (data[0] === STDOUT) {
      shown += data.length - 1;
      screen = (screen + data.subarray(1).toString()).slice(-256);
    } else if (data[0] === STATUS) {
      status = data.subarray(1).toString();
    }
    check();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const start = performance.now();
  const send = (channel: number, text: string) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));
  send(RESIZE, JSON.stringify({ Width: 160, Height: 48 }));
  await waitFor(() => screen.endsWith(PROMPT));
  let keys = 0;
  for (const command of [...commands, 'exit']) {
    for (const key of `${command}\r`) {
      await pause(1000 / pace.keysPerSecond);
      screen = '';
      send(STDIN, key);
      keys++;
    }
    if (command === 'exit') break;
    await waitFor(() => screen.endsWith(PROMPT));
    await pause(pace.readMs);
  }
  await closed;
  if (!status?.includes('"Success"')) throw new Error(`interactive sh through ${target.base.href}: status ${status ?? 'none'}`);
  return { commands: commands.length, keys, shown, seconds: (performance.now() - start) / 1000 };
}
