# Images (DESIGN §8), as OpenEmbedded's image.bbclass, simplified: a recipe that
# `inherit image` has no packages of its own; it installs IMAGE_INSTALL (and what
# that needs at runtime, resolved through pkgdata) from the IMAGE_PKGTYPE packages
# into a root filesystem, and writes it as IMAGE_FSTYPES images into DEPLOY_DIR_IMAGE.
#   do_rootfs          packages -> ${IMAGE_ROOTFS} (+ the format's package database)
#   do_image           ${IMAGE_ROOTFS} -> ${IMGDEPLOYDIR}/${IMAGE_NAME}.rootfs.<type>
#   do_image_complete  ${IMGDEPLOYDIR} -> ${DEPLOY_DIR_IMAGE}, a shared state task
# The @kiln/image plugin supplies the three bodies.

IMAGE_INSTALL ?= ""
IMAGE_FSTYPES ?= "tar.gz"
# the first of PACKAGE_CLASSES (each package_<type> class also sets it with ?=)
IMAGE_PKGTYPE ?= "${@(d.getVar('PACKAGE_CLASSES') ?? '').split(/\s+/).filter(Boolean).map((c) => c.replace(/^package_/, ''))[0] ?? ''}"
# "0" in a class that makes the rootfs by other means (debian-rootfs): no package
# feeds needed, only this class's do_image and do_image_complete
IMAGE_FROM_PACKAGE_FEEDS ?= "1"
NO_RECOMMENDATIONS ?= ""
BAD_RECOMMENDATIONS ?= ""
PACKAGE_EXCLUDE ?= ""

IMAGE_ROOTFS ?= "${WORKDIR}/rootfs"
IMGDEPLOYDIR ?= "${WORKDIR}/deploy-${PN}-image-complete"
IMAGE_BASENAME ?= "${PN}"
# OpenEmbedded's suffix is the build's date and time; kiln's is SOURCE_DATE_EPOCH's,
# so the same inputs give the same file names
IMAGE_VERSION_SUFFIX ?= "-${@image_datetime(d)}"
IMAGE_NAME ?= "${IMAGE_BASENAME}-${MACHINE}${IMAGE_VERSION_SUFFIX}"
IMAGE_LINK_NAME ?= "${IMAGE_BASENAME}-${MACHINE}"
# SOURCE_DATE_EPOCH is not a signature input; the name it makes is
IMAGE_NAME[vardepvalue] = "${IMAGE_NAME}"

jsdef image_package_write_tasks(d) {
    const types = (d.getVar('PACKAGE_CLASSES') ?? '').split(/\s+/).filter(Boolean).map((c) => c.replace(/^package_/, ''))
    return [...new Set(['deb', 'ipk', 'rpm', ...types])].flatMap((t) => [`do_package_write_${t}`, `do_package_write_${t}_setscene`]).join(' ')
}

# PREFERRED_RPROVIDER_<name> choices the resolver reads (names not known in advance)
jsdef image_preferred_rproviders(d) {
    return [...d.keys()].filter((k) => k.startsWith('PREFERRED_RPROVIDER_')).sort().join(' ')
}

jsdef image_datetime(d) {
    const epoch = Number.parseInt(d.getVar('SOURCE_DATE_EPOCH') ?? '0', 10) || 0
    return new Date(epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

# no packages of its own (OpenEmbedded's nopackages.bbclass), and nothing to fetch or compile
PACKAGES = ""
LICENSE ?= "MIT"
EXCLUDE_FROM_WORLD = "1"
RDEPENDS += "${IMAGE_INSTALL}"
deltask do_fetch
deltask do_unpack
deltask do_patch
deltask do_configure
deltask do_compile
deltask do_install
deltask do_populate_sysroot
deltask do_populate_sysroot_setscene
deltask do_package
deltask do_package_setscene
deltask do_packagedata
deltask do_packagedata_setscene
# every package writer's tasks, whichever PACKAGE_CLASSES names
deltask ${@image_package_write_tasks(d)}

# an image without packages to install is skipped (not a parse error, which would stop
# every build of the layer): building it says why
js __anonymous () {
    if ((d.getVar('IMAGE_FROM_PACKAGE_FEEDS') ?? '1') === '0') return
    const type = d.getVar('IMAGE_PKGTYPE') ?? ''
    const classes = (d.getVar('PACKAGE_CLASSES') ?? '').split(/\s+/).filter(Boolean)
    if (!type) kiln.skipRecipe('IMAGE_PKGTYPE is empty: set PACKAGE_CLASSES (e.g. "package_deb") so images have packages to install')
    if (!classes.includes(`package_${type}`)) kiln.skipRecipe(`IMAGE_PKGTYPE = "${type}", but PACKAGE_CLASSES (${classes.join(' ') || 'empty'}) does not write ${type} packages: add package_${type}`)
}

js do_rootfs () {
    kiln.fatal("do_rootfs has no body: load the @kiln/image plugin (KILN_PLUGINS)")
}
addtask rootfs
# every package the image may install exists before the rootfs is made: the package
# tasks of the recipes the image needs at runtime, and of everything below them
# (do_package_write_<type>[rdeptask] = "do_packagedata" links a recipe's packages to
# its runtime dependencies, as OpenEmbedded's DEBIANRDEP does)
do_rootfs[recrdeptask] += "do_packagedata do_package_write_${IMAGE_PKGTYPE}"
do_rootfs[dirs] = "${WORKDIR}"
do_rootfs[vardeps] += "IMAGE_INSTALL IMAGE_PKGTYPE NO_RECOMMENDATIONS BAD_RECOMMENDATIONS PACKAGE_EXCLUDE IMAGE_ROOTFS sysconfdir ${@image_preferred_rproviders(d)}"

js do_image () {
    kiln.fatal("do_image has no body: load the @kiln/image plugin (KILN_PLUGINS)")
}
addtask image after do_rootfs
do_image[dirs] = "${WORKDIR}"
do_image[vardeps] += "IMAGE_FSTYPES IMAGE_NAME IMAGE_LINK_NAME IMGDEPLOYDIR ZSTD_COMPRESSION_LEVEL XZ_COMPRESSION_LEVEL GZIP_COMPRESSION_LEVEL"

js do_image_complete () {
    kiln.fatal("do_image_complete has no body: load the @kiln/image plugin (KILN_PLUGINS)")
}
addtask image_complete after do_image before do_build
do_image_complete[dirs] = "${WORKDIR}"
do_image_complete[vardeps] += "IMAGE_NAME"
SSTATETASKS += "do_image_complete"
do_image_complete[sstate-inputdirs] = "${IMGDEPLOYDIR}"
do_image_complete[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
addtask image_complete_setscene

addtask build after do_image_complete
