# kiln's base class: inherited by every recipe (before INHERIT's classes).
# The task chain is OpenEmbedded's; later plugins give the tasks real bodies.

# fetch, unpack and patch as BitBake's fetcher does them: SRC_URI into DL_DIR (checked,
# through mirrors; schemes are plugins), then into WORKDIR, then patches applied in S
js base_do_fetch () {
    await kiln.fetch.download(d)
}
addtask fetch
do_fetch[vardeps] += "SRC_URI SRCREV"
do_fetch[dirs] = "${DL_DIR}"
do_fetch[network] = "1"

js base_do_unpack () {
    await kiln.fetch.unpack(d)
}
addtask unpack after do_fetch
do_unpack[vardeps] += "SRC_URI SRCREV"
do_unpack[dirs] = "${WORKDIR}"

js base_do_patch () {
    await kiln.fetch.patch(d)
}
addtask patch after do_unpack
do_patch[vardeps] += "SRC_URI"
do_patch[dirs] = "${WORKDIR}"

base_do_configure() {
	:
}
addtask configure after do_patch
do_configure[dirs] = "${B}"
do_configure[deptask] = "do_populate_sysroot"

base_do_compile() {
	:
}
addtask compile after do_configure
do_compile[dirs] = "${B}"

base_do_install() {
	:
}
addtask install after do_compile
do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"

# The first shared state task (DESIGN §6): what a recipe installs under SYSROOT_DIRS is
# staged in SYSROOT_DESTDIR, archived as an sstate object and merged into the
# per-machine sysroot (STAGING_DIR_HOST) with a manifest; do_populate_sysroot_setscene
# restores it (the @kiln/sstate plugin implements both).
base_do_populate_sysroot() {
	for dir in ${SYSROOT_DIRS}; do
		if [ -d "${D}$dir" ]; then
			mkdir -p "${SYSROOT_DESTDIR}$dir"
			cp -a "${D}$dir/." "${SYSROOT_DESTDIR}$dir/"
		fi
	done
}
addtask populate_sysroot after do_install
do_populate_sysroot[dirs] = "${WORKDIR}"
do_populate_sysroot[cleandirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-inputdirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-outputdirs] = "${STAGING_DIR_HOST}"
SSTATETASKS += "do_populate_sysroot"
addtask populate_sysroot_setscene

# The second shared state task: a recipe that deploys (kernels, boot loaders, images)
# adds `addtask deploy after do_compile before do_build` and writes into ${DEPLOYDIR};
# shared state archives that and merges it into DEPLOY_DIR_IMAGE with a manifest.
DEPLOYDIR = "${WORKDIR}/deploy-${PN}"
SSTATETASKS += "do_deploy"
do_deploy[sstate-inputdirs] = "${DEPLOYDIR}"
do_deploy[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
do_deploy[dirs] = "${B}"
do_deploy[cleandirs] = "${DEPLOYDIR}"
addtask deploy_setscene

do_build[noexec] = "1"
addtask build after do_populate_sysroot

EXPORT_FUNCTIONS do_fetch do_unpack do_patch do_configure do_compile do_install do_populate_sysroot
