export { createVwsWorkspace, type VwsWorkspace, type VwsWorkspaceOptions } from './workspace.js';
export { createVwsTools, diffSince, diffSinceFetched, DEFAULT_DIFF_EXCLUDE } from './tools.js';
export { scriptedModel, type ScriptedStep } from './scripted-model.js';
