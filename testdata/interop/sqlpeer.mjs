// The TypeScript side of the Go SQLite and Postgres bridge interop tests (abxbus@2.5.56's own
// SQLiteEventBridge and PostgresEventBridge).
//
//   node22 sqlpeer.mjs emit   sqlite   DBPATH TABLE   N RUN     emit N SqlPeerPing events, then exit
//   node   sqlpeer.mjs emit   postgres TABLEURL CHANNEL N RUN
//   node22 sqlpeer.mjs listen sqlite   DBPATH TABLE   N RUN     print "ready", then one JSON line per
//   node   sqlpeer.mjs listen postgres TABLEURL CHANNEL N RUN   received ping of RUN; exit after N
//
// A ping's payload is {run, seq, text}; the listener prints {seq, text, created_at, type}.
import { BaseEvent, SQLiteEventBridge } from 'abxbus';

async function postgresBridge() {
  return (await import('abxbus/PostgresEventBridge')).PostgresEventBridge;
}

const [mode, kind, target, second, nStr, run] = process.argv.slice(2);
const n = Number(nStr);
const text = (seq) => `héllo "wörld" ✓ <&> \\ tab\tnl\n#${seq}`;

async function open() {
  if (kind === 'sqlite') return new SQLiteEventBridge(target, second, 0.02, 'TsSqlPeer');
  if (kind === 'postgres') return new (await postgresBridge())(target, second, 'TsSqlPeer');
  throw new Error(`unknown kind ${kind}`);
}

const bridge = await open();
if (mode === 'emit') {
  await bridge.start();
  for (let seq = 0; seq < n; seq++) {
    await bridge.emit(BaseEvent.fromJSON({ event_type: 'SqlPeerPing', run, seq, text: text(seq) }));
  }
  await bridge.close();
  process.exit(0);
} else if (mode === 'listen') {
  let got = 0;
  await bridge.start();
  bridge.on('*', (ev) => {
    if (ev.run !== run) return;
    process.stdout.write(JSON.stringify({ seq: ev.seq, text: ev.text, created_at: ev.event_created_at, type: ev.event_type }) + '\n');
    if (++got === n) {
      setTimeout(async () => { await bridge.close(); process.exit(0); }, 50);
    }
  });
  process.stdout.write('ready\n');
  setTimeout(() => { process.stderr.write(`timeout after ${got} events\n`); process.exit(3); }, 60000);
} else {
  throw new Error(`unknown mode ${mode}`);
}
