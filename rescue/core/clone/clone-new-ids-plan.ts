// Puts `--new-ids` into a clone plan: the table step writes the new disk GUID and partition GUIDs
// (GPT) or the new disk signature (MBR), and a new-ids step before it gives the copy's filesystems
// their new ids and rewrites the copy's fstab, crypttab and grub.cfg (ops/clone-new-ids.ts).

import type { ClonePlan, CloneStep } from './clone-plan.ts';
import { idRenames, mbrSignatureOf, type NewIds, type NewIdsStep } from './new-ids.ts';

/** The plan with the copy's new ids. */
export function withNewIds(plan: ClonePlan, ids: NewIds): ClonePlan {
  // A shrunk volume (ops/clone-shrink.ts) is on the target like a copied one: it gets its new id too.
  const volumes: NewIdsStep['volumes'] = plan.steps.flatMap((step) => (step.kind === 'volume' || step.kind === 'shrink-filesystem'
    ? [{ partition: step.volume.partition, filesystem: step.volume.filesystem, offset: step.volume.targetOffset, sizeBytes: step.volume.targetBytes }]
    : []));
  const guid = new Map(ids.changes.filter((change) => change.what === 'partition-guid').map((change) => [change.partition, change.to]));
  const disk = ids.changes.find((change) => change.what === 'disk-guid' || change.what === 'mbr-signature');
  const mbrPartitions = plan.layout?.table === 'mbr' ? plan.layout.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => partition.number) : [];
  const step: NewIdsStep = { kind: 'new-ids', label: 'give the copy new ids and rewrite its fstab, crypttab and grub.cfg to name them', ids, volumes, renames: idRenames(ids, mbrPartitions) };
  const steps: CloneStep[] = [];
  for (const current of plan.steps) {
    if (current.kind !== 'table') {
      steps.push(current);
      continue;
    }
    steps.push(step);
    const layout = { ...current.layout, partitions: current.layout.partitions.map((partition) => (guid.has(partition.number) ? { ...partition, uuid: guid.get(partition.number) } : partition)) };
    if (disk?.what === 'disk-guid') steps.push({ ...current, layout, diskId: disk.to });
    else if (disk?.what === 'mbr-signature') steps.push({ ...current, layout, diskSignature: mbrSignatureOf(disk.to) });
    else steps.push(current);
  }
  if (!steps.includes(step)) steps.push(step);
  const windows = volumes.some((volume) => volume.filesystem === 'ntfs') && disk !== undefined;
  const notes = windows ? [...plan.notes, 'Windows names its partitions by disk and partition id in its boot configuration (BCD): after --new-ids, boot the copy\'s Windows with its recovery tools and run bcdboot, or give the copy its own disk.'] : plan.notes;
  return { ...plan, steps, ids, notes };
}
