// Runs the external tools of the build (xorriso, grub-mkimage, mtools, zstd...) through execa and
// turns failures into coded errors that carry the tool's output.

import { execa, type Options } from 'execa';
import { LifeboatError } from '../rescue/core/errors.ts';

/** Runs a tool; resolves with its stdout, throws LB_BUILD_TOOL_MISSING or LB_BUILD_STEP_FAILED. */
export async function runTool(file: string, args: readonly string[], options: Options = {}): Promise<string> {
  try {
    const result = await execa(file, args, { stripFinalNewline: true, ...options });
    return typeof result.stdout === 'string' ? result.stdout : '';
  } catch (error) {
    const failure = error as { code?: string; exitCode?: number; stderr?: unknown; stdout?: unknown; shortMessage?: string };
    if (failure.code === 'ENOENT') {
      throw new LifeboatError('LB_BUILD_TOOL_MISSING', { detail: `${file} was not found.`, tool: file }, { cause: error });
    }
    const stderr = typeof failure.stderr === 'string' ? failure.stderr.slice(-4000) : '';
    throw new LifeboatError(
      'LB_BUILD_STEP_FAILED',
      { detail: `${file} exited with ${failure.exitCode ?? 'an error'}: ${stderr.split('\n').slice(-5).join(' | ')}`, tool: file, args, stderr },
      { cause: error },
    );
  }
}
