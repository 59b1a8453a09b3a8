import test from 'ava';
import { execa } from 'execa';
import { describePartitionType } from '../../rescue/core/partition-table/partition-types.ts';

test('roles come from GPT GUIDs and MBR type bytes', (t) => {
  t.like(describePartitionType('c12a7328-f81f-11d2-ba4b-00a0c93ec93b'), { name: 'EFI System', role: 'esp' });
  t.like(describePartitionType('E3C9E316-0B5C-4DB8-817D-F92DF00215AE'), { role: 'microsoft-reserved' });
  t.like(describePartitionType('DE94BBA4-06D1-4D40-A16A-BFD50179D6AC'), { role: 'windows-recovery' });
  t.like(describePartitionType('21686148-6449-6E6F-744E-656564454649'), { role: 'bios-boot' });
  t.like(describePartitionType('82'), { role: 'linux-swap' });
  t.like(describePartitionType('7'), { role: 'windows-system-candidate' });
  t.like(describePartitionType('27'), { role: 'windows-recovery' });
  t.like(describePartitionType('ef'), { role: 'esp' });
  t.like(describePartitionType('f'), { role: 'extended' });
  t.like(describePartitionType('99'), { name: 'MBR type 0x99', role: 'data' });
});

test('our GPT names agree with sfdisk\'s own type list', async (t) => {
  const { stdout } = await execa('sfdisk', ['--label', 'gpt', '--list-types']);
  const names = new Map([...stdout.matchAll(/^([0-9A-F-]{36})\s+(.+)$/gm)].map((m) => [m[1] ?? '', (m[2] ?? '').trim()]));
  for (const guid of ['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '21686148-6449-6E6F-744E-656564454649', '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', '0FC63DAF-8483-4772-8E79-3D69D8477DE4', 'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC']) {
    t.is(describePartitionType(guid).name as string | undefined, names.get(guid), guid);
  }
});
