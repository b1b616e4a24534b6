import type { LaunchSpec } from './launcher.js';

/** A LaunchSpec crosses the IPC channel as it is (plain data). */
export type WireSpec = LaunchSpec;

export type ToSpawner =
  | { type: 'spawn'; id: number; spec: WireSpec }
  | { type: 'write'; id: number; data: string }
  | { type: 'closeStdin'; id: number }
  | { type: 'signal'; id: number; signal: NodeJS.Signals }
  | { type: 'resize'; id: number; cols: number; rows: number };

export type FromSpawner =
  | { type: 'ready' }
  | { type: 'spawned'; id: number; pid: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'out' | 'err'; id: number; data: string }
  | { type: 'exit'; id: number; exitCode: number; signal?: number };
