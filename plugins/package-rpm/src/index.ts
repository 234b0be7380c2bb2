/**
 * @kiln/package-rpm: RPM v4 packages written by kiln itself (rpm.ts, no rpmbuild),
 * and the package_rpm class's do_package_write_rpm (plugin.ts).
 */
export { plugin, plugin as default, PLUGIN_NAME, rpmArch, writeRpmFor } from "./plugin.js";
export { writeRpm, rpmVersion, type RpmSpec, type RpmDependency, type RpmSense, type RpmCompression } from "./rpm.js";
