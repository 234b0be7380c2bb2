# Packaging (DESIGN §8), inherited by each package_<type> class.
# do_package copies ${D} to ${PKGD}, runs PACKAGE_PREPROCESS_FUNCS there and splits it
# into ${PKGDEST}/<pkg> by PACKAGES and FILES:<pkg> (first match wins), adds
# shared-library runtime dependencies and writes pkgdata into ${PKGDESTWORK};
# do_packagedata publishes that into ${PKGDATA_DIR}, where images and dependent
# recipes read it. Both are shared state tasks. The @kiln/package plugin supplies
# do_package's body.

PKGD = "${WORKDIR}/package"
PKGDEST = "${WORKDIR}/packages-split"
PKGDESTWORK = "${WORKDIR}/pkgdata"
PKGDATA_DIR ?= "${TMPDIR}/pkgdata/${MACHINE}"

PKGE ?= "${PE}"
PKGV ?= "${PV}"
PKGR ?= "${PR}"
EXTENDPKGEVER = "${@(d.getVar('PKGE') ?? '').trim() ? d.getVar('PKGE') + ':' : ''}"
EXTENDPKGV ?= "${EXTENDPKGEVER}${PKGV}-${PKGR}"

MAINTAINER ?= "kiln <kiln@localhost>"
SECTION ?= "base"
PRIORITY ?= "optional"

SOLIBS ?= ".so.*"
SOLIBSDEV ?= ".so"
FILES_SOLIBSDEV ?= "${base_libdir}/lib*${SOLIBSDEV} ${libdir}/lib*${SOLIBSDEV}"

# OpenEmbedded's defaults, so recipes written for it split the same way
FILES:${PN} ?= "${bindir}/* ${sbindir}/* ${libexecdir}/* ${libdir}/lib*${SOLIBS} \
    ${sysconfdir} ${localstatedir} ${base_bindir}/* ${base_sbindir}/* \
    ${base_libdir}/*${SOLIBS} ${datadir}/${BPN} ${libdir}/${BPN}/* \
    ${datadir}/pixmaps ${datadir}/applications"
FILES:${PN}-dbg ?= "/usr/lib/debug /usr/lib/debug-static /usr/src/debug \
    ${bindir}/.debug ${sbindir}/.debug ${libdir}/.debug ${base_libdir}/.debug ${libexecdir}/.debug"
FILES:${PN}-dev ?= "${includedir} ${FILES_SOLIBSDEV} ${libdir}/*.la ${libdir}/*.o \
    ${libdir}/pkgconfig ${datadir}/pkgconfig ${datadir}/aclocal ${base_libdir}/*.o \
    ${libdir}/${BPN}/*.la ${base_libdir}/*.la ${libdir}/cmake ${datadir}/cmake"
FILES:${PN}-staticdev ?= "${libdir}/*.a ${base_libdir}/*.a ${libdir}/${BPN}/*.a"
FILES:${PN}-doc ?= "${docdir} ${mandir} ${infodir} ${datadir}/gtk-doc ${datadir}/gnome/help"
FILES:${PN}-locale ?= "${datadir}/locale"

SECTION:${PN}-dev ?= "devel"
SECTION:${PN}-staticdev ?= "devel"
SECTION:${PN}-doc ?= "doc"
SECTION:${PN}-dbg ?= "devel"
SUMMARY:${PN}-dev ?= "${SUMMARY} - Development files"
SUMMARY:${PN}-staticdev ?= "${SUMMARY} - Development files (Static Libraries)"
SUMMARY:${PN}-dbg ?= "${SUMMARY} - Debugging files"
SUMMARY:${PN}-doc ?= "${SUMMARY} - Documentation files"
SUMMARY:${PN}-locale ?= "${SUMMARY} - Translations"
RDEPENDS:${PN}-dev ?= "${PN} (= ${EXTENDPKGV})"
RDEPENDS:${PN}-staticdev ?= "${PN}-dev (= ${EXTENDPKGV})"

# the per-package variables a package's contents and metadata come from (signatures)
PACKAGEVARS = "FILES RDEPENDS RRECOMMENDS RSUGGESTS RPROVIDES RCONFLICTS RREPLACES PKG \
    ALLOW_EMPTY pkg_preinst pkg_postinst pkg_prerm pkg_postrm PKGE PKGV PKGR CONFFILES \
    LICENSE SECTION SUMMARY DESCRIPTION HOMEPAGE PACKAGE_ARCH"

jsdef gen_packagevar (d) {
    const out = []
    const vars = (d.getVar('PACKAGEVARS') ?? '').split(/\s+/).filter(Boolean)
    for (const pkg of (d.getVar('PACKAGES') ?? '').split(/\s+/).filter(Boolean)) {
        for (const v of vars) out.push(`${v}:${pkg}`)
    }
    return [...vars, ...out].join(' ')
}

js do_package () {
    kiln.fatal("do_package has no body: load the @kiln/package plugin (KILN_PLUGINS)")
}
addtask package after do_install
do_package[cleandirs] = "${PKGD} ${PKGDEST} ${PKGDESTWORK}"
do_package[dirs] = "${WORKDIR}"
do_package[deptask] = "do_packagedata"
do_package[vardeps] += "PACKAGES PACKAGE_PREPROCESS_FUNCS MAINTAINER ${@gen_packagevar(d)}"
SSTATETASKS += "do_package"
do_package[sstate-plaindirs] = "${PKGD} ${PKGDEST} ${PKGDESTWORK}"
addtask package_setscene

do_packagedata () {
	cp -a ${PKGDESTWORK}/. ${WORKDIR}/pkgdata-sysroot/
}
addtask packagedata after do_package before do_build
do_packagedata[cleandirs] = "${WORKDIR}/pkgdata-sysroot"
do_packagedata[dirs] = "${WORKDIR}"
SSTATETASKS += "do_packagedata"
do_packagedata[sstate-inputdirs] = "${WORKDIR}/pkgdata-sysroot"
do_packagedata[sstate-outputdirs] = "${PKGDATA_DIR}"
addtask packagedata_setscene
