# A binary package of a Debian suite as a recipe (DESIGN §9). @kiln/debian synthesises
# one per package of the suite's Packages index and sets, per package:
#   PN (DEBIAN_RECIPE_PREFIX + name), PE (the epoch), PV (the version without it),
#   DEBIAN_PACKAGE, DEBIAN_VERSION, DEBIAN_PACKAGE_ARCH, DEBIAN_FILENAME (pool path),
#   DEBIAN_SHA256, DEBIAN_SIZE, DEBIAN_PRIORITY, DEBIAN_ESSENTIAL, DEBIAN_MULTIARCH,
#   DEBIAN_SOURCE, SUMMARY, SECTION, RDEPENDS (Pre-Depends + Depends, each `a | b`
#   resolved to the first alternative the suite satisfies), RRECOMMENDS, RPROVIDES.
# Only those may differ between packages: the class must not use them in variable
# names or anonymous functions (those are evaluated once, for all packages).
#   do_fetch    the .deb into ${DL_DIR}/debian/<pool path>, sha256-checked
#   do_install  its data member into ${D}, through kiln's archive checks
#   do_populate_sysroot  (base) a shared state task

PR = "r0"
LICENSE ?= "Debian-copyright"
EXCLUDE_FROM_WORLD = "1"
PACKAGES = "${PN}"
DEBIAN_RECIPE = "1"

# the pool layout kept under DL_DIR: the same tree is the local apt repository's pool
SRC_URI = "${DEBIAN_MIRROR}/${DEBIAN_FILENAME};downloadfilename=debian/${DEBIAN_FILENAME}"
SRC_URI[sha256sum] = "${DEBIAN_SHA256}"
# the sha256 pins the content: which mirror served it does not change the task
SRC_URI[vardepsexclude] = "DEBIAN_MIRROR"
DEBIAN_DEB = "${DL_DIR}/debian/${DEBIAN_FILENAME}"

S = "${WORKDIR}"

deltask do_unpack
deltask do_patch
deltask do_configure
deltask do_compile
deltask do_package
deltask do_package_setscene
deltask do_packagedata
deltask do_packagedata_setscene
deltask do_package_write_deb
deltask do_package_write_deb_setscene
deltask do_package_write_ipk
deltask do_package_write_ipk_setscene
deltask do_package_write_rpm
deltask do_package_write_rpm_setscene

js do_install () {
    kiln.fatal("do_install has no body: load the @kiln/debian plugin (KILN_PLUGINS)")
}
addtask install after do_fetch before do_populate_sysroot
do_install[cleandirs] = "${D}"
do_install[vardeps] += "DEBIAN_DEB DEBIAN_FILENAME DEBIAN_SHA256"
