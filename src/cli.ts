// The command line: one commander program from buildProgram(), options from the shared table,
// values resolved into Settings (flags > WARDEN_* > --config > defaults), then one command runs.
import { Command, CommanderError, Option } from 'commander';
import path from 'node:path';
import tty from 'node:tty';
import { EXIT, KEEPER_COMMAND, RUNNER_COMMAND, SIGNAL_EXIT, UnavailableError, UsageError, VERSION } from './exit.js';
import { msg, PROGRAM } from './messages.js';
import { envName, optionsFor } from './options.js';
import type { CommandName } from './options.js';
import { Sink } from './report/sink.js';
import { defaultStateDir } from './pool/state-dir.js';
import { importEsm } from './esm-import.js';
import { ranPart } from './code-parts.js';
export { setImporter } from './esm-import.js';
export { partsRun } from './code-parts.js';
import { resolveSettings } from './settings.js';
import type { Settings } from './settings.js';

type Flags = Record<string, string | string[] | boolean>;
export type Invocation = { command: CommandName; flags: Flags; argv: string[] };

const SUMMARY: Record<CommandName, string> = {
  watch: 'run the check on a schedule and start the jobs whenever it fires (the long-running supervisor)',
  once: 'one tick, for cron: run the check, start the jobs if it fires, wait for them, exit',
  run: 'take a slot in a pool, run one command holding it, exit with its code',
  status: 'show the pools in the state dir, their caps, live jobs, free slots and spooled delayed jobs',
  log: 'summarise JSON-lines logs (--log-file) of any number of processes and hosts; draw their timeline',
};

const EXAMPLES: Record<CommandName, string[]> = {
  watch: [
    "warden watch --every 30s --check './in-stock.sh' --job './mail-vip.sh' --max-live 3",
    "warden watch --cron '*/5 * * * *' --check 'curl -fs https://shop.example/api/stock' --job './mail.sh' --overflow skip",
    "warden watch --every 1m --job './mail-vip.sh' --job './mail-rest.sh' --delay 10m --log json --log-file /var/log/warden.jsonl",
    "warden watch --cron '30 2 * * *' --tz Europe/Berlin --job './nightly.sh'",
    'warden watch --config stock.json --quiet',
    "warden watch --every 5m --job './sync.sh' --on-failure './alert.sh' --ping https://hc-ping.com/<uuid> --metrics 127.0.0.1:9464",
  ],
  once: [
    "*/5 * * * * warden once --check './in-stock.sh' --job './mail.sh' --pool mail --max-live 2 --quiet",
    "warden once --check 'ls inbox' --each-line --job './process.sh \"$WARDEN_ITEM\"' --max-queue unlimited --overflow wait",
    "warden once --detach --log-file ~/warden.jsonl --job './mail-rest.sh' --delay 10m",
    "*/5 * * * * warden once --check './in-stock.sh' --on-change --job './mail.sh' --quiet",
    "warden once --check './new-orders.sh' --each-line --on-change --unique --job './ship.sh \"$WARDEN_ITEM\"'",
    "*/5 * * * * warden once --redis redis://redis.internal/0 --cron '*/5 * * * *' --check './in-stock.sh' --job './mail.sh' --pool mail --max-live 3",
  ],
  run: [
    'warden run --pool backup --max-live 1 -- ./backup.sh --full',
    'warden run --pool mail --max-live 3 --overflow skip --timeout 10m -- ./mail.sh',
    "for f in *.wav; do warden run --pool enc --max-live 4 --detach --log-file enc.jsonl -- flac \"$f\"; done",
  ],
  status: ['warden status', 'warden status --pool mail --json', 'warden status --drop mx5hpky9-cad-1', 'warden status --redis redis://redis.internal/0 --pool mail'],
  log: [
    'warden log /var/log/warden.jsonl',
    'warden log --since 2h --timeline /var/log/warden.jsonl /var/log/warden.jsonl.1',
    "warden log --since '2026-12-02 22:00' --until '2026-12-03 06:00' --html night.html host-*.jsonl",
    'warden log --json warden.jsonl | jq .pools',
  ],
};

/** The commander program; `sink` receives what commander would print (help, errors). */
const COMMANDS = ['watch', 'once', 'run', 'status', 'log'] as const;

/**
 * The commander program. With `only`, just that command is built: a one-shot `warden run`
 * need not pay for the options of the other three.
 */
export function buildProgram(onRun: (inv: Invocation) => void, only?: CommandName): Command {
  const program = new Command(PROGRAM)
    .description('Run a check on a schedule, start jobs when it fires, and cap live jobs across every process with a kernel-backed pool.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .addHelpText('after', `\nExamples:\n  ${[EXAMPLES.watch[0], EXAMPLES.once[0], EXAMPLES.run[0], EXAMPLES.status[0]].join('\n  ')}\n\nRun 'warden <command> --help' for every option of a command.`);

  for (const name of only ? [only] : COMMANDS) {
    const cmd = program.command(name).description(SUMMARY[name]).helpOption('-h, --help', 'show help').exitOverride();
    for (const def of optionsFor(name)) {
      const flags = def.value ? (def.optionalValue ? `${def.flag} [${def.value}]` : `${def.flag} <${def.value}>`) : def.flag;
      const option = new Option(flags, `${def.help} [env ${envName(def)}]`);
      if (def.kind === 'texts') option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
      cmd.addOption(option);
    }
    if (name === 'run') {
      cmd.argument('[command...]', 'the command and its arguments (after --)').passThroughOptions().usage('[options] -- CMD [ARG...]');
    }
    if (name === 'log') cmd.argument('[file...]', 'JSON-lines log files (gzip\'d ones too; - for standard input)').usage('[options] FILE...');
    cmd.addHelpText('after', () => helpFooter(name));
    cmd.action((...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const argv = (name === 'run' || name === 'log') && Array.isArray(args[0]) ? (args[0] as string[]) : [];
      onRun({ command: name, flags: command.opts<Flags>(), argv });
    });
  }
  return program;
}

function helpFooter(name: CommandName): string {
  const notes: Record<CommandName, string> = {
    watch: 'Exit status: 0 stopped by --max-runs, 1 a job failed, 2 bad usage, 128+n stopped by signal n.',
    once: 'Exit status: 0 not fired or all jobs succeeded, 1 a job failed (its own code if it is the only job), 2 bad usage, 3 the check failed, 69 Redis (--redis) could not be reached, 70 warden itself failed (the pool), 75 the pool was full and the trigger was skipped, 124 the only job was ended by its timeout.',
    run: "Exit status: the command's own, 128+n if it died of signal n or warden was stopped by signal n, 2 bad usage, 69 Redis (--redis) could not be reached, 70 warden itself failed (the pool), 75 the pool was full (skip) or --wait-timeout passed, 124 --timeout ended the command. The job holds its slot through descriptor $WARDEN_SLOT_FD: closing it frees the slot early.",
    status: 'Shows every pool in the state dir unless --pool names one, with its spooled delayed jobs (each with the ID that --drop takes); with --redis URL, the fleet pool named by --pool (default "default") on every host, and its waiters.',
    log: "Files are read in one pass, merged by time; malformed lines are counted, never fatal. --since and --until take an ISO time (local unless it names a zone), 'now', or a duration meaning that long ago (2h, 30m, 7d). Exit status: 0; 1 the page could not be written; 2 bad usage or an unreadable file.",
  };
  const fromEnv = process.env.WARDEN_STATE_DIR ? ` (here: ${path.resolve(process.env.WARDEN_STATE_DIR)}, from $WARDEN_STATE_DIR)` : '';
  const state = `State dir: --state-dir, else $WARDEN_STATE_DIR, else ${defaultStateDir()}, the same for every session of this user (kept 0700)${fromEnv}.`;
  return `\n${notes[name]}\n${name === 'log' ? '' : `${state}\n`}\nExamples:\n  ${EXAMPLES[name].join('\n  ')}\n`;
}

/** Parse argv into an invocation, or the exit code of help, version or a usage error. */
export function parseArgs(argv: string[], write: { out: (s: string) => void; err: (s: string) => void }): Invocation | number {
  let invocation: Invocation | undefined;
  const named = COMMANDS.find((c) => c === argv[0]);
  const program = buildProgram((inv) => (invocation = inv), named);
  program.configureOutput({ writeOut: write.out, writeErr: () => undefined });
  for (const cmd of program.commands) cmd.configureOutput({ writeOut: write.out, writeErr: () => undefined });
  if (argv.length === 0) {
    write.err(program.helpInformation());
    return EXIT.usage;
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    const sub = program.commands.find((c) => argv.includes(c.name()))?.name();
    // One line, whatever commander wrote (it puts "Did you mean ...?" on a line of its own).
    write.err(`${msg.usageError(err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '))} (${msg.seeHelp(sub)})\n`);
    return EXIT.usage;
  }
  if (!invocation) {
    write.err(`${msg.usageError(`unknown command '${argv[0]}'`)} (${msg.seeHelp()})\n`);
    return EXIT.usage;
  }
  return invocation;
}

export async function main(argv: string[]): Promise<number> {
  // SIGUSR1 asks for the log file to be reopened (nginx's convention). Node's own answer to it
  // is to open a debugger port that any local user could connect to: never that.
  process.on('SIGUSR1', () => undefined);
  // Synchronous and EPIPE-proof: `warden --help | head` must not crash.
  const out = new Sink(1, 'stdout', () => undefined);
  const err = new Sink(2, 'stderr', () => undefined);
  const write = { out: (s: string) => out.write(s), err: (s: string) => err.write(s) };
  if (argv[0] === RUNNER_COMMAND && argv.length === 2) {
    ranPart('runner');
    return (await import('./commands/detach.js')).runnerCommand(argv[1]);
  }
  if (argv[0] === KEEPER_COMMAND && argv.length === 1) {
    ranPart('keeper');
    return (await import('./pool/redis/keeper.js')).keeperCommand();
  }
  const parsed = parseArgs(argv, write);
  if (typeof parsed === 'number') return parsed;
  ranPart(parsed.command);
  const resolved = resolveSettings(parsed.command, parsed.flags, process.env, parsed.argv);
  if ('error' in resolved) {
    write.err(`${msg.usageError(resolved.error)}\n`);
    return EXIT.usage;
  }
  const terminal = [0, 1, 2].some((fd) => tty.isatty(fd));
  try {
    const code = await dispatch(resolved.settings, parsed);
    // After a hang-up, Node's exit would restore the dead terminal's modes and abort on EIO:
    // die of the SIGHUP itself instead (the status a shell shows is 129 either way).
    if (code === SIGNAL_EXIT.SIGHUP && terminal) return dieOf('SIGHUP');
    return code;
  } catch (err) {
    if (err instanceof UsageError) {
      write.err(`${msg.usageError(err.message)}\n`);
      return EXIT.usage;
    }
    if (err instanceof UnavailableError) {
      write.err(`${msg.usageError(err.message)}\n`);
      return EXIT.unavailable;
    }
    // Not the user's doing (a state dir removed under us, a kernel refusal): one line, not a
    // trace, and a status no job of the user's can be confused with.
    write.err(`${msg.internalError(err instanceof Error ? err.message : String(err))}\n`);
    return EXIT.software;
  }
}

async function dispatch(settings: Settings, inv: Invocation): Promise<number> {
  switch (settings.command) {
    case 'watch':
      return (await import('./commands/watch.js')).watchCommand(settings);
    case 'once':
      return (await import('./commands/once.js')).onceCommand(settings);
    case 'run':
      return (await import('./commands/run.js')).runCommand(settings);
    case 'status': {
      const only = typeof inv.flags.pool === 'string' ? settings.pool : process.env.WARDEN_POOL ? settings.pool : undefined;
      return (await import('./commands/status.js')).statusCommand(settings, only);
    }
    case 'log':
      return (await importEsm<typeof import('./commands/log.js')>('./commands/log.js')).logCommand(settings);
  }
}

function dieOf(signal: NodeJS.Signals): Promise<number> {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  return new Promise(() => undefined);
}
