// The allow/deny lists, read from a command line: every program the line runs directly, matched by
// name and by the executable it resolves to. A command line can always hide a program (a script, an
// interpreter, a variable): this is a guard against mistakes, not a boundary. Under bubblewrap the
// denied executables are made unrunnable for real (isolation.ts).

import { accessSync, constants, realpathSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';

/** Programs that run the rest of their arguments as a command: their own options are skipped. */
const WRAPPERS: Record<string, { withArg?: string[]; count?: number }> = {
  env: { withArg: ['-u', '--unset', '-C', '--chdir', '-S', '--split-string'] },
  command: {},
  exec: { withArg: ['-a'] },
  builtin: {},
  nohup: {},
  time: { withArg: ['-f', '-o'] },
  nice: { withArg: ['-n'] },
  ionice: { withArg: ['-c', '-n', '-p'] },
  setsid: {},
  stdbuf: { withArg: ['-i', '-o', '-e'] },
  timeout: { withArg: ['-s', '-k', '--signal', '--kill-after'], count: 1 },
  sudo: { withArg: ['-u', '-g', '-C', '-D'] },
  doas: { withArg: ['-u'] },
  xargs: { withArg: ['-I', '-L', '-n', '-P', '-d', '-E', '-a', '-s'] },
  chroot: { count: 1 },
  unbuffer: {},
  strace: { withArg: ['-o', '-e', '-p', '-s'] },
  watch: { withArg: ['-n', '-d'] },
};
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']);
/** Reserved words that may lead a command; `for`, `select` and `case` heads run nothing themselves. */
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '{', '}', '!', '[[', ']]', 'function', 'esac']);
const HEADS = new Set(['for', 'select', 'case', 'in']);
/** Builtins that run no program: always allowed by an allow list. */
export const HARMLESS_BUILTINS = new Set(['cd', 'pwd', 'export', 'unset', 'set', 'shift', 'local', 'declare', 'typeset', 'readonly', 'read', 'return', 'exit', ':', 'true', 'false', 'test', '[', 'echo', 'printf', 'alias', 'unalias', 'wait', 'jobs', 'umask', 'pushd', 'popd', 'dirs', 'shopt', 'trap', 'type', 'hash', 'let', 'break', 'continue']);

/** Words and separators of a command line: quotes and escapes resolved, `$(`, backticks, `;`, `&`, `|`, `(`, `)` and newlines split commands. */
function lex(line: string): Array<string | null> {
  const out: Array<string | null> = [];
  /** Commands inside double quotes (`$(...)`, backticks), lexed on their own and put after the rest. */
  const inside: Array<string | null> = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) out.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word += line.slice(i + 1, end < 0 ? undefined : end);
      inWord = true;
      i = end < 0 ? line.length : end;
    } else if (c === '"') {
      // Inside double quotes a $( or backtick still starts a command: its text is lexed on its own too.
      let j = i + 1;
      let text = '';
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) text += line[++j];
        else text += line[j];
      }
      word += text;
      inWord = true;
      i = j;
      const inner = /\$\(([^)]*)\)|`([^`]*)`/g;
      for (let m; (m = inner.exec(text)); ) inside.push(null, ...lex(m[1] ?? m[2] ?? ''));
    } else if (c === '$' && line.startsWith('((', i + 1)) {
      // Arithmetic, not a command: one word up to its closing '))'.
      const end = line.indexOf('))', i + 3);
      word += line.slice(i, end < 0 ? undefined : end + 2);
      inWord = true;
      i = end < 0 ? line.length : end + 1;
    } else if (c === '$' && line[i + 1] === '(') {
      flush();
      out.push(null);
      i++;
    } else if (c === '#' && !inWord) {
      // A comment, to the end of the line.
      const nl = line.indexOf('\n', i);
      i = nl < 0 ? line.length : nl - 1;
    } else if (c === '&' && (/[<>]$/.test(word) || line[i + 1] === '>')) {
      // Part of a redirection (2>&1, <&3, &>file), not a separator.
      word += c;
      inWord = true;
    } else if (/[;&|()`\n]/.test(c)) {
      flush();
      out.push(null);
    } else if (c === ' ' || c === '\t') flush();
    else {
      word += c;
      inWord = true;
    }
  }
  flush();
  return [...out, ...inside];
}

/** The programs a command line runs directly (first words of its commands, through wrappers and `sh -c`). */
export function programsOf(line: string, depth = 0): string[] {
  const programs: string[] = [];
  let words: string[] = [];
  const take = () => {
    programs.push(...programOfCommand(words, depth));
    words = [];
  };
  for (const t of lex(line)) (t === null ? take() : words.push(t));
  take();
  return programs;
}

function programOfCommand(words: string[], depth: number): string[] {
  const out: string[] = [];
  let i = 0;
  const skipAssignmentsAndRedirections = () => {
    while (i < words.length) {
      const w = words[i]!;
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) i++;
      // A redirection: its target is in the same word (`>file`, `2>&1`) or the next (`> file`).
      else if (/^(\d*|&)[<>]/.test(w)) i += /^(\d*|&)(<|>|>>|<<|<<<|>\||<>)$/.test(w) ? 2 : 1;
      else break;
    }
  };
  while (i < words.length && KEYWORDS.has(words[i]!)) i++;
  if (HEADS.has(words[i] ?? '')) return out;
  skipAssignmentsAndRedirections();
  while (i < words.length) {
    const w = words[i]!;
    const name = basename(w);
    out.push(w);
    // `bash -c 'line'`: the line's own programs.
    if (SHELLS.has(name) && depth < 4) {
      const c = words.indexOf('-c', i + 1);
      if (c > 0 && words[c + 1] !== undefined) out.push(...programsOf(words[c + 1]!, depth + 1));
      return out;
    }
    if (name === 'eval' && depth < 4) return [...out, ...programsOf(words.slice(i + 1).join(' '), depth + 1)];
    const wrap = WRAPPERS[name];
    if (!wrap) return out;
    i++;
    if (name === 'env') {
      const s = words.findIndex((x, k) => k >= i && (x === '-S' || x === '--split-string'));
      if (s >= 0 && words[s + 1] !== undefined) out.push(...programsOf(words[s + 1]!, depth + 1));
    }
    let positional = wrap.count ?? 0;
    while (i < words.length) {
      const a = words[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (a.startsWith('-') && a.length > 1) i += wrap.withArg?.includes(a) ? 2 : 1;
      else if (name === 'env' && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) i++;
      else if (positional > 0) {
        positional--;
        i++;
      } else break;
    }
    skipAssignmentsAndRedirections();
  }
  return out;
}

/**
 * Where a program name leads: its real path (PATH lookup for a bare name, `cwd` for a relative path),
 * or undefined. Nothing under `skipUnder` is looked at (the workspace may be a FUSE mount this
 * process serves: no synchronous call may touch it).
 */
export function resolveExecutable(program: string, path: string, cwd: string, skipUnder?: string): string | undefined {
  const candidates = program.includes('/') ? [isAbsolute(program) ? program : resolve(cwd, program)] : path.split(':').filter(Boolean).map((d) => `${d}/${program}`);
  for (const c of candidates) {
    if (skipUnder && (c === skipUnder || c.startsWith(`${skipUnder}/`))) continue;
    try {
      accessSync(c, constants.X_OK);
      return realpathSync(c);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Every executable a deny entry names on this PATH (each PATH entry's, real paths), for binding over. */
export function deniedExecutables(deny: string[], path: string): string[] {
  const out = new Set<string>();
  for (const d of deny) {
    if (d.endsWith('*')) continue;
    const candidates = d.includes('/') ? [d] : path.split(':').filter(Boolean).map((dir) => `${dir}/${d}`);
    for (const c of candidates) {
      try {
        accessSync(c, constants.X_OK);
        out.add(realpathSync(c));
      } catch {
        // not here
      }
    }
  }
  return [...out];
}

export interface ListVerdict {
  denied: boolean;
  reason?: string;
}

/**
 * The allow/deny lists against a command line: a program is denied when its name or the executable
 * it resolves to is on the deny list ('prefix*' entries match the whole line's start), or, with an
 * allow list, when neither is on it.
 */
export function checkLists(line: string, lists: { allow?: string[]; deny?: string[] }, where: { path: string; cwd: string; argv?: string[] }): ListVerdict {
  const programs = where.argv ? programOfCommand(where.argv, 0) : programsOf(line);
  const real = (p: string) => resolveExecutable(p, where.path, where.cwd, where.cwd);
  const named = (entry: string, program: string) => entry === program || (!entry.includes('/') && entry === basename(program)) || (entry.includes('/') && real(entry) !== undefined && real(entry) === real(program));
  for (const d of lists.deny ?? []) {
    if (d.endsWith('*') && line.trimStart().startsWith(d.slice(0, -1))) return { denied: true, reason: `'${line.trim().split(/\s+/)[0]}' is on the deny list` };
  }
  const deniedReal = new Set(deniedExecutables(lists.deny ?? [], where.path));
  for (const p of programs) {
    const target = real(p);
    if ((lists.deny ?? []).some((d) => !d.endsWith('*') && named(d, p)) || (target !== undefined && deniedReal.has(target))) return { denied: true, reason: `'${p}' is on the deny list` };
  }
  if (lists.allow) {
    const allowedReal = new Set(deniedExecutables(lists.allow, where.path));
    for (const p of programs) {
      const target = real(p);
      if (HARMLESS_BUILTINS.has(p)) continue;
      if (!lists.allow.some((a) => named(a, p)) && !(target !== undefined && allowedReal.has(target))) return { denied: true, reason: `'${p}' is not on the allow list` };
    }
  }
  return { denied: false };
}
