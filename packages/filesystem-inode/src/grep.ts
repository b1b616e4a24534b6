// A grep fast path straight over the engine: no file is copied out, binary files are skipped.

import type { FilesystemGrepOptions, FilesystemGrepResult, FilesystemGrepMatch } from '@mastra/core/workspace';
import type { InodeFs } from '@vws/inode-fs';

const decoder = new TextDecoder();

export function grepEngine(fs: InodeFs, o: FilesystemGrepOptions, isText: (name: string) => boolean): FilesystemGrepResult[] {
  const re = new RegExp(o.pattern, o.caseSensitive ? 'g' : 'gi');
  const results: FilesystemGrepResult[] = [];
  let total = 0;
  const files: string[] = [];
  const root = fs.stat(o.path);
  if (!root.isDirectory()) files.push(o.path);
  else {
    const stack = [o.path];
    while (stack.length) {
      const dir = stack.pop()!;
      for (const e of fs.readdir(dir, { withFileTypes: true })) {
        if (!o.includeHidden && e.name.startsWith('.')) continue;
        const full = `${dir === '/' ? '' : dir}/${e.name}`;
        if (e.kind === 'directory') stack.push(full);
        else if (e.kind === 'file') files.push(full);
      }
    }
    files.sort();
  }
  // Paths relative to the searched directory (the contract's and LocalFilesystem's), so that the
  // grep tool can join them to the path it searched; a searched file is its own name.
  const base = o.path === '/' ? '/' : `${o.path}/`;
  for (const path of files) {
    if (o.maxTotalMatches !== undefined && total >= o.maxTotalMatches) break;
    const bytes = fs.readFile(path);
    if (!isText(path) && bytes.subarray(0, 8000).includes(0)) continue;
    const lines = decoder.decode(bytes).split('\n');
    const matches: FilesystemGrepMatch[] = [];
    for (let i = 0; i < lines.length; i++) {
      re.lastIndex = 0;
      const m = re.exec(lines[i]);
      if (!m) continue;
      // 0-based column (a UTF-16 index), as the contract says.
      const match: FilesystemGrepMatch = { line: i + 1, column: m.index, text: lines[i] };
      if (o.contextLines) {
        match.before = lines.slice(Math.max(0, i - o.contextLines), i);
        match.after = lines.slice(i + 1, i + 1 + o.contextLines);
      }
      matches.push(match);
      total++;
      if (o.maxCountPerFile !== undefined && matches.length >= o.maxCountPerFile) break;
      if (o.maxTotalMatches !== undefined && total >= o.maxTotalMatches) break;
    }
    if (matches.length) results.push({ path: path.startsWith(base) ? path.slice(base.length) : path.slice(path.lastIndexOf('/') + 1), matches });
  }
  return results;
}
