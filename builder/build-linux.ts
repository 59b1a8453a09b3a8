export async function buildLinux(_request: unknown, _log: (line: string) => void): Promise<unknown> {
  throw new Error('not yet');
}
