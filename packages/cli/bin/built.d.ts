/** dist/main.js when the built CLI is up to date with its sources, else undefined. */
export function builtMain(): string | undefined;
