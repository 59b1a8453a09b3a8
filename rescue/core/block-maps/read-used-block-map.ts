// Picks the used-block map reader for what a probe found: the filesystem's own map for ext, FAT,
// exFAT and NTFS; the header page only for swap (the rest is scratch space); every block, with a
// notice, for anything else (XFS, btrfs, encrypted containers, unknown contents).

import type { ByteSource } from '../byte-source.ts';
import type { FilesystemProbe } from '../filesystems/probe-types.ts';
import { readExfatUsedBlockMap } from './exfat.ts';
import { readExtUsedBlockMap } from './ext.ts';
import { readFatUsedBlockMap } from './fat.ts';
import { readNtfsUsedBlockMap } from './ntfs.ts';
import { wholeDeviceMap, type UsedBlockMap, type UsedBlockMapReader } from './used-block-map.ts';

const READERS: Readonly<Record<string, UsedBlockMapReader>> = {
  ext2: readExtUsedBlockMap,
  ext3: readExtUsedBlockMap,
  ext4: readExtUsedBlockMap,
  vfat: readFatUsedBlockMap,
  exfat: readExfatUsedBlockMap,
  ntfs: readNtfsUsedBlockMap,
};

/** The swap header page: all a backup of a swap partition needs (mkswap's signature, label, UUID). */
const SWAP_HEADER_BYTES = 4096;

function swapHeaderMap(source: ByteSource): UsedBlockMap {
  const length = Math.min(SWAP_HEADER_BYTES, source.size);
  return {
    filesystem: 'swap',
    blockSize: SWAP_HEADER_BYTES,
    totalBlocks: Math.ceil(source.size / SWAP_HEADER_BYTES),
    usedBlocks: length > 0 ? 1 : 0,
    sizeBytes: source.size,
    notice: undefined,
    async *extents() {
      if (length > 0) yield { offset: 0, length };
    },
  };
}

/** The map of a partition (or whole disk) whose contents `probe` describes (undefined: not recognised). */
export async function readUsedBlockMap(source: ByteSource, probe: FilesystemProbe | undefined): Promise<UsedBlockMap> {
  if (!probe) return wholeDeviceMap(source, 'unrecognised');
  if (probe.type === 'swap' && probe.state !== 'hibernated') return swapHeaderMap(source);
  const reader = READERS[probe.type];
  const map = reader ? await reader(source) : undefined;
  return map ?? wholeDeviceMap(source, probe.type);
}
