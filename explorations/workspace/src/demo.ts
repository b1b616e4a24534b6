// The vws demo: a Mastra Agent works in a vws workspace. Offline it is driven by a scripted model (a
// fixed list of tool calls); with VWS_MODEL set (e.g. VWS_MODEL=openai/gpt-4o-mini and its API key),
// the same workspace is handed to that model with the task given on the command line.
//
// The scripted agent writes a small program and its test with the file tools, runs them and git with
// execute_command, saves a checkpoint, breaks the program, sees the test fail, restores, forks to try
// an alternative, and ends with the diff. Every tool call is printed with its result and its time.

import { Agent } from '@mastra/core/agent';
import { createVwsWorkspace, scriptedModel, type ScriptedStep } from '@vws/workspace';

const GIT = 'git -c user.name=agent -c user.email=agent@example.com -c init.defaultBranch=main';

const SCRIPT: ScriptedStep[] = [
  { tool: 'mastra_workspace_write_file', args: { path: 'src/stats.js', content: 'exports.mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;\n', overwrite: true } },
  { tool: 'mastra_workspace_write_file', args: { path: 'test.js', content: "const { mean } = require('./src/stats');\nconst got = mean([1, 2, 3, 4]);\nif (got !== 2.5) { console.error(`FAIL: mean gave ${got}`); process.exit(1); }\nconsole.log('PASS: mean([1,2,3,4]) = 2.5');\n", overwrite: true } },
  { tool: 'mastra_workspace_execute_command', args: { command: 'node test.js' } },
  { tool: 'mastra_workspace_execute_command', args: { command: `${GIT} init -q && ${GIT} add -A && ${GIT} commit -qm "mean with a test" && ${GIT} log --oneline` } },
  { tool: 'vws_checkpoint_save', args: { name: 'green' } },
  { tool: 'mastra_workspace_read_file', args: { path: 'src/stats.js' } },
  { tool: 'mastra_workspace_edit_file', args: { path: 'src/stats.js', old_string: '/ xs.length', new_string: '/ (xs.length + 1)', replace_all: false } },
  { tool: 'mastra_workspace_execute_command', args: { command: 'node test.js' } },
  { tool: 'vws_checkpoint_restore', args: { name: 'green' } },
  { tool: 'mastra_workspace_execute_command', args: { command: 'node test.js' } },
  { tool: 'vws_fork', args: { keepAs: 'reduce-version' } },
  { tool: 'mastra_workspace_write_file', args: { path: 'src/stats.js', content: 'exports.mean = (xs) => {\n  let sum = 0;\n  for (const x of xs) sum += x;\n  return sum / xs.length;\n};\n', overwrite: true } },
  { tool: 'mastra_workspace_execute_command', args: { command: `node test.js && ${GIT} commit -qam "mean as a loop" && ${GIT} log --oneline | wc -l` } },
  { tool: 'vws_diff', args: { since: 'green', patch: true } },
  { text: 'Done: mean() passes its test; the loop version is committed, the reduce version is kept as checkpoint "reduce-version".' },
];

interface TranscriptEntry {
  step: number;
  tool: string;
  args: unknown;
  result: unknown;
  ms: number;
}

const short = (v: unknown, n = 160) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
};

async function main(): Promise<void> {
  const started = performance.now();
  const modelId = process.env.VWS_MODEL;
  const task = process.argv.slice(2).join(' ') || 'Write a mean() function in src/stats.js with a test in test.js, run it, and commit it with git.';
  const vws = await createVwsWorkspace({ files: { '/README.md': '# stats\nA tiny statistics module.\n' }, perTurnCheckpoints: true });
  const transcript: TranscriptEntry[] = [];
  try {
    const agent = new Agent({
      id: 'vws-demo',
      name: 'vws demo agent',
      instructions: 'You are a careful software engineer working in a vws workspace. Use the workspace tools.',
      model: modelId ? (modelId as never) : scriptedModel(SCRIPT),
      workspace: vws.workspace,
      tools: vws.tools,
    });
    console.log(`vws demo — ${modelId ? `model ${modelId}` : 'scripted model (offline)'}\nworkspace mounted at ${vws.path}\ntask: ${task}\n`);
    let last = performance.now();
    let step = 0;
    const res = await vws.turn(() =>
      agent.generate(task, {
        maxSteps: modelId ? 30 : SCRIPT.length + 1,
        onStepFinish: (s: any) => {
          const now = performance.now();
          const calls = s.toolCalls ?? [];
          const results = s.toolResults ?? [];
          calls.forEach((c: any, i: number) => {
            const name = c.payload?.toolName ?? c.toolName;
            const args = c.payload?.args ?? c.args ?? c.input;
            const result = results[i]?.payload?.result ?? results[i]?.result;
            const entry = { step: ++step, tool: name, args, result, ms: (now - last) / calls.length };
            transcript.push(entry);
            console.log(`${String(entry.step).padStart(2)}. ${name.replace('mastra_workspace_', '')}  (${entry.ms.toFixed(1)} ms)\n    args:   ${short(args)}\n    result: ${short(result)}`);
          });
          last = now;
        },
      }),
    );
    const diff = transcript.filter((t) => t.tool === 'vws_diff').at(-1)?.result as { patch?: string } | undefined;
    if (diff?.patch) console.log(`\nfinal diff since "green":\n${diff.patch}`);
    const usage = vws.filesystem.engine.usage();
    const summary = {
      model: modelId ?? 'scripted',
      toolCalls: transcript.length,
      seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
      checkpoints: vws.filesystem.listCheckpoints().map((c) => c.name),
      files: vws.filesystem.engine.readdir('/'),
      inodes: usage.inodes,
      bytes: usage.bytes,
      answer: res.text,
    };
    console.log(`\nsummary: ${summary.toolCalls} tool calls in ${summary.seconds} s; checkpoints: ${summary.checkpoints.join(', ')}; files: ${summary.files.join(', ')}\nagent: ${res.text}`);
    if (process.env.VWS_DEMO_JSON) console.log(JSON.stringify({ summary, transcript }));
  } finally {
    await vws.destroy();
  }
}

await main();
