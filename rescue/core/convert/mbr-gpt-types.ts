// Which GPT type an MBR partition type becomes when a disk is converted in place (legacy BIOS to
// UEFI), and the attributes it carries (Windows recovery: required + no drive letter).

/** EFI System partition type GUID. */
export const ESP_TYPE_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const BASIC_DATA = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

/** The GPT type (and attribute bits, decimal) for each MBR type a conversion knows. */
const MAPPING: Readonly<Record<number, { readonly typeGuid: string; readonly attributes?: string }>> = {
  0x01: { typeGuid: BASIC_DATA },
  0x04: { typeGuid: BASIC_DATA },
  0x06: { typeGuid: BASIC_DATA },
  0x07: { typeGuid: BASIC_DATA },
  0x0b: { typeGuid: BASIC_DATA },
  0x0c: { typeGuid: BASIC_DATA },
  0x0e: { typeGuid: BASIC_DATA },
  0x27: { typeGuid: 'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC', attributes: (0x8000000000000001n).toString() },
  0x82: { typeGuid: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F' },
  0x83: { typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
  0x8e: { typeGuid: 'E6D6D379-F507-44C2-A23C-238F2A3DF928' },
  0xef: { typeGuid: ESP_TYPE_GUID },
  0xfd: { typeGuid: 'A19D880F-05FC-4D3B-A006-743F0F84911E' },
};

/** The GPT type of an MBR type byte; undefined when the conversion does not know it. */
export function gptTypeForMbr(type: number): { readonly typeGuid: string; readonly attributes?: string } | undefined {
  return MAPPING[type];
}
