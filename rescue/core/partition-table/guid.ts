// GUIDs as GPT stores them: the first three fields little-endian, the last two big-endian.

const GUID_PATTERN = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

/** The all-zero GUID: an unused GPT entry. */
export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** Formats 16 on-disk bytes as an upper-case GUID string (the form sfdisk and sgdisk print). */
export function formatGuid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0'));
    return (reverse ? part.reverse() : part).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`.toUpperCase();
}

/** Encodes a GUID string into its 16 on-disk bytes; throws on a malformed string. */
export function encodeGuid(guid: string): Uint8Array {
  const upper = guid.toUpperCase();
  if (!GUID_PATTERN.test(upper)) throw new Error(`not a GUID: ${guid}`);
  const hex = upper.replace(/-/g, '');
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}
