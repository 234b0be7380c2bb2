/**
 * @kiln/package-deb: writes Debian packages itself (deb.ts). The do_package_write_deb
 * task that uses it (with do_package splitting and a feed index) is issue #7's next part.
 */
export { writeDeb, fieldValue, MAINTAINER_SCRIPTS, type DebSpec, type DebCompression } from "./deb.js";
