# RPM packages (DESIGN §8): do_package_write_rpm writes every package do_package
# kept into ${DEPLOY_DIR_RPM}/<arch>/ as an .rpm, a shared state task; the
# @kiln/package-rpm plugin supplies its body and repodata (createrepo_c).
inherit package

DEPLOY_DIR_RPM ?= "${DEPLOY_DIR}/rpm"
PACKAGE_RPM_COMPRESSION ?= "xz"
IMAGE_PKGTYPE ?= "rpm"

js do_package_write_rpm () {
    kiln.fatal("do_package_write_rpm has no body: load the @kiln/package-rpm plugin (KILN_PLUGINS)")
}
addtask package_write_rpm after do_packagedata do_package before do_build
do_package_write_rpm[dirs] = "${WORKDIR}"
do_package_write_rpm[cleandirs] = "${WORKDIR}/deploy-rpms"
# runtime dependencies are packaged first (OE: debian.bbclass's DEBIANRDEP), which also
# puts them below an image's do_rootfs[recrdeptask]
do_package_write_rpm[rdeptask] = "do_packagedata"
do_package_write_rpm[vardeps] += "MAINTAINER PRIORITY PACKAGE_RPM_COMPRESSION ${@gen_packagevar(d)}"
SSTATETASKS += "do_package_write_rpm"
do_package_write_rpm[sstate-inputdirs] = "${WORKDIR}/deploy-rpms"
do_package_write_rpm[sstate-outputdirs] = "${DEPLOY_DIR_RPM}"
addtask package_write_rpm_setscene
do_build[rdeptask] += "do_package_write_rpm"
# an image (which has no packages of its own) has every package it installs written
# in this format too, as OpenEmbedded's package classes do
do_rootfs[recrdeptask] += "do_package_write_rpm"
