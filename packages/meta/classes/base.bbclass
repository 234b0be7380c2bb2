# kiln's base class: inherited by every recipe (before INHERIT's classes).
# The task chain is OpenEmbedded's; later plugins give the tasks real bodies.

# Logging from shell functions, as OpenEmbedded's logging.bbclass names it: each line
# goes to the task's log and, through BB_LOGMESSAGES (kiln's LOGFIFO), to the build's
# console once the function ends; bbfatal also fails the task.
bbmessage () {
	[ -z "$BB_LOGMESSAGES" ] || printf '%s %s\0' "$1" "$2" >> "$BB_LOGMESSAGES"
}
bbplain () {
	echo "$*"
	bbmessage bbplain "$*"
}
bbnote () {
	echo "NOTE: $*"
	bbmessage bbnote "$*"
}
bbverbnote () {
	echo "NOTE: $*"
	bbmessage bbverbnote "$*"
}
bbwarn () {
	echo "WARNING: $*"
	bbmessage bbwarn "$*"
}
bberror () {
	echo "ERROR: $*"
	bbmessage bberror "$*"
}
bbfatal () {
	echo "ERROR: $*"
	bbmessage bbfatal "$*"
	exit 1
}
bbfatal_log () {
	echo "ERROR: $*"
	bbmessage bbfatal_log "$*"
	exit 1
}
bbdebug () {
	# bbdebug LEVEL MESSAGE
	shift
	echo "DEBUG: $*"
	bbmessage bbdebug "$*"
}

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

# Utility tasks, as OpenEmbedded's utility-tasks.bbclass has them: run on request
# (`kiln -c listtasks foo`, `kiln -c clean foo`), never stamped, nothing depends on them.
do_listtasks[nostamp] = "1"
do_listtasks[doc] = "Lists all defined tasks for a target"
js do_listtasks () {
    const tasks = kiln.listTasks(d).sort();
    const width = Math.max(0, ...tasks.map((t) => t.length));
    for (const t of tasks) {
        const doc = t.endsWith("_setscene") ? `${d.getVarFlag(t.slice(0, -"_setscene".length), "doc") ?? ""} (setscene version)` : (d.getVarFlag(t, "doc") ?? "");
        kiln.plain(`${t.padEnd(width)}  ${doc}`);
    }
}
addtask listtasks

# do_clean removes ${WORKDIR} and the recipe's stamps, then runs CLEANFUNCS (the shared
# state plugin adds the removal of what the recipe installed into shared trees). Its
# own log goes to ${LOG_DIR}/cleanlogs, outside what it removes.
CLEANFUNCS ?= ""
T:task-clean = "${LOG_DIR}/cleanlogs/${PN}"
do_clean[nostamp] = "1"
do_clean[doc] = "Removes all output files for a target"
do_clean[dirs] = "${TOPDIR}"
base_clean_workdir () {
	bbnote "Removing ${WORKDIR}"
	rm -rf "${WORKDIR}"
	bbnote "Removing ${STAMP}.*"
	rm -rf "${STAMP}".*
}
base_clean_workdir[dirs] = "${TOPDIR}"
js do_clean () {
    await kiln.execFunc("base_clean_workdir")
    for (const f of String(d.getVar("CLEANFUNCS") ?? "").split(/\s+/).filter(Boolean)) await kiln.execFunc(f)
}
addtask clean

# do_cleansstate also removes the recipe's shared state objects (the @kiln/sstate plugin
# gives it its body); do_cleanall also removes its downloads from DL_DIR.
do_cleansstate[nostamp] = "1"
do_cleansstate[doc] = "Removes all output files and shared state cache for a target"
js do_cleansstate () {
    kiln.note("no shared state plugin: no objects to remove")
}
addtask cleansstate after do_clean
do_cleanall[nostamp] = "1"
do_cleanall[doc] = "Removes all output files, shared state cache, and downloaded source files for a target"
js do_cleanall () {
    for (const path of await kiln.fetch.clean(d)) kiln.note(`Removing ${path}`)
}
addtask cleanall after do_cleansstate

do_fetch[doc] = "Fetches the source code"
do_unpack[doc] = "Unpacks the source code into a working directory"
do_patch[doc] = "Locates patch files and applies them to the source code"
do_configure[doc] = "Configures the source by enabling and disabling any build-time and configuration options for the software being built"
do_compile[doc] = "Compiles the source in the compilation directory"
do_install[doc] = "Copies files from the compilation directory to a holding area"
do_populate_sysroot[doc] = "Copies a subset of files installed by do_install into the sysroot in order to make them available to other recipes"
do_build[doc] = "Default task for a recipe - depends on all other normal tasks required to 'build' a recipe"

EXPORT_FUNCTIONS do_fetch do_unpack do_patch do_configure do_compile do_install do_populate_sysroot
