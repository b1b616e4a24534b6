// What a model reads of a terminal's output: the text a person would see, without the escape
// sequences (colours, cursor moves, window titles) and with each carriage-return progress frame
// replaced by the last one. The raw stream (onStdout, reader) is left as the program wrote it.

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, and 8-bit CSI.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[PX^_][^\u001b]*(?:\u001b\\)?|\u001b[ -/]*[0-~]|\u009b[0-?]*[ -/]*[@-~]/g;

export function cleanOutput(text: string): string {
  if (!text.includes('\u001b') && !text.includes('\r') && !text.includes('\u009b')) return text;
  const plain = text.replace(ESCAPES, '');
  if (!plain.includes('\r')) return plain;
  return plain
    .split('\n')
    .map((line) => {
      const body = line.replace(/\r+$/, '');
      const cr = body.lastIndexOf('\r');
      return cr < 0 ? body : body.slice(cr + 1);
    })
    .join('\n');
}
