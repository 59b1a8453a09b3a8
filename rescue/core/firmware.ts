// How the machine booted: BIOS or UEFI, and whether UEFI Secure Boot is enforcing.

/** Firmware facts shown in boot logs and system reports. */
export interface FirmwareFacts {
  readonly mode: 'uefi' | 'bios';
  /** undefined on BIOS, or when the variable could not be read. */
  readonly secureBoot: boolean | undefined;
}

/** GUID of the EFI global variables (SecureBoot, SetupMode...). */
export const EFI_GLOBAL_VARIABLE_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

/** Reads a boolean EFI variable as efivarfs shows it: 4 attribute bytes, then the value byte. */
export function parseEfiBooleanVariable(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < 5) return undefined;
  return bytes[4] === 1;
}

/** One line for logs: "uefi, secure boot on" / "bios". */
export function describeFirmware(facts: FirmwareFacts): string {
  if (facts.mode === 'bios') return 'bios';
  if (facts.secureBoot === undefined) return 'uefi, secure boot unknown';
  return `uefi, secure boot ${facts.secureBoot ? 'on' : 'off'}`;
}
