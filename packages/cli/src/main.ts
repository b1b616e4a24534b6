// The `vws` entry. `vws exec -- CMD` goes to the exec daemon (daemon/) without loading the CLI: a
// short command then costs this process's start-up and the run. Everything else, and exec wherever
// the daemon is off or cannot start, is the full CLI (cli.ts) in this process.

import { execRoute } from './daemon/route.js';
import { userArgs } from './argv-bytes.js';
import { hoistGlobalOptions } from './global-options.js';

// A closed output pipe (`vws cat FILE | head -1`) ends vws quietly, with the status a tool killed by
// SIGPIPE has (141), never a stack trace. Node ignores SIGPIPE and reports EPIPE as a stream error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

// --json and --vault after the command too (global-options.ts): the CLI reads process.argv.
// Arguments keep their exact bytes (argv-bytes.ts): a name that is not UTF-8 is not merged with another.
process.argv.splice(2, Infinity, ...hoistGlobalOptions(userArgs()));
const route = execRoute(process.argv.slice(2));
const code = route ? await (await import('./daemon/client.js')).execThroughDaemon(route) : null;
if (code !== null) process.exitCode = code;
else await import('./cli.js');
