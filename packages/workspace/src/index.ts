export { createVwsWorkspace, type VwsWorkspace, type VwsWorkspaceOptions } from './workspace.js';
export { createVwsTools, diffSince } from './tools.js';
export { scriptedModel, type ScriptedStep } from './scripted-model.js';
