# Debian packages (DESIGN §8): do_package_write_deb writes every package do_package
# kept into ${DEPLOY_DIR_DEB}/<arch>/ as a .deb, a shared state task; the
# @kiln/package-deb plugin supplies its body and the feeds' Packages indexes.
inherit package

DEPLOY_DIR_DEB ?= "${DEPLOY_DIR}/deb"
PACKAGE_DEB_COMPRESSION ?= "xz"
IMAGE_PKGTYPE ?= "deb"

js do_package_write_deb () {
    kiln.fatal("do_package_write_deb has no body: load the @kiln/package-deb plugin (KILN_PLUGINS)")
}
addtask package_write_deb after do_packagedata do_package before do_build
do_package_write_deb[dirs] = "${WORKDIR}"
do_package_write_deb[cleandirs] = "${WORKDIR}/deploy-debs"
# runtime dependencies are packaged first (OE: debian.bbclass's DEBIANRDEP), which also
# puts them below an image's do_rootfs[recrdeptask]
do_package_write_deb[rdeptask] = "do_packagedata"
do_package_write_deb[vardeps] += "MAINTAINER PRIORITY PACKAGE_DEB_COMPRESSION ${@gen_packagevar(d)}"
SSTATETASKS += "do_package_write_deb"
do_package_write_deb[sstate-inputdirs] = "${WORKDIR}/deploy-debs"
do_package_write_deb[sstate-outputdirs] = "${DEPLOY_DIR_DEB}"
addtask package_write_deb_setscene
do_build[rdeptask] += "do_package_write_deb"
# an image (which has no packages of its own) has every package it installs written
# in this format too, as OpenEmbedded's package classes do
do_rootfs[recrdeptask] += "do_package_write_deb"
