// A language model that plays a fixed script of tool calls (Mastra accepts AI SDK models; this is the
// AI SDK's own mock), so an Agent can be driven offline and deterministically: for demos and tests.

import { MockLanguageModelV2 } from 'ai/test';

export interface ScriptedStep {
  /** A tool to call with these arguments... */
  tool?: string;
  args?: Record<string, unknown>;
  /** ...or a final text answer. */
  text?: string;
}

export function scriptedModel(steps: ScriptedStep[]): MockLanguageModelV2 {
  let turn = 0;
  const usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  return new MockLanguageModelV2({
    doGenerate: async () => {
      const step = steps[turn++] ?? { text: 'done' };
      if (step.tool) {
        return { content: [{ type: 'tool-call', toolCallId: `call-${turn}`, toolName: step.tool, input: JSON.stringify(step.args ?? {}) }], finishReason: 'tool-calls', usage, warnings: [] };
      }
      return { content: [{ type: 'text', text: step.text ?? 'done' }], finishReason: 'stop', usage, warnings: [] };
    },
  });
}
