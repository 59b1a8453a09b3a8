// The Lifeboat version, stamped into builds and logs. Kept in step with package.json by a test.
export const LIFEBOAT_VERSION = '0.1.0';
