// gatehouse create-admin: interactive (password not echoed) or scripted with --password-stdin.
export async function createAdminCommand(_args: readonly string[]): Promise<number> {
  process.stderr.write('gatehouse: create-admin is not available yet\n');
  return 1;
}
