# opkg packages (DESIGN §8): do_package_write_ipk writes every package do_package
# kept into ${DEPLOY_DIR_IPK}/<arch>/ as an .ipk, a shared state task; the
# @kiln/package-ipk plugin supplies its body and the feeds' Packages indexes.
inherit package

DEPLOY_DIR_IPK ?= "${DEPLOY_DIR}/ipk"
PACKAGE_IPK_COMPRESSION ?= "xz"
IMAGE_PKGTYPE ?= "ipk"

js do_package_write_ipk () {
    kiln.fatal("do_package_write_ipk has no body: load the @kiln/package-ipk plugin (KILN_PLUGINS)")
}
addtask package_write_ipk after do_packagedata do_package before do_build
do_package_write_ipk[dirs] = "${WORKDIR}"
do_package_write_ipk[cleandirs] = "${WORKDIR}/deploy-ipks"
# runtime dependencies are packaged first (OE: debian.bbclass's DEBIANRDEP), which also
# puts them below an image's do_rootfs[recrdeptask]
do_package_write_ipk[rdeptask] = "do_packagedata"
do_package_write_ipk[vardeps] += "MAINTAINER PRIORITY PACKAGE_IPK_COMPRESSION ${@gen_packagevar(d)}"
SSTATETASKS += "do_package_write_ipk"
do_package_write_ipk[sstate-inputdirs] = "${WORKDIR}/deploy-ipks"
do_package_write_ipk[sstate-outputdirs] = "${DEPLOY_DIR_IPK}"
addtask package_write_ipk_setscene
do_build[rdeptask] += "do_package_write_ipk"
# an image (which has no packages of its own) has every package it installs written
# in this format too, as OpenEmbedded's package classes do
do_rootfs[recrdeptask] += "do_package_write_ipk"
