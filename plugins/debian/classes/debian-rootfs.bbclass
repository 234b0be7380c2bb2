# A Debian root filesystem (DESIGN §9), made like debootstrap/mmdebstrap from the
# virtual recipes of the configured suite:
#   DEBIAN_VARIANT   essential | minbase | required | custom
#   DEBIAN_PACKAGES  more packages (names in the suite)
#   DEBIAN_MERGED_USR "1": /bin, /sbin, /lib* are links into /usr; usr-is-merged wins
#   DEBIAN_CONFIGURE "1": dpkg --configure -a inside the rootfs (needs root)
# @kiln/debian resolves the package set when recipes are parsed (from debian.lock
# when there is one) and makes do_rootfs depend on the do_fetch of each; do_rootfs
# unpacks them and writes dpkg's database. do_image and do_image_complete are
# @kiln/image's: IMAGE_FSTYPES (tar.zst, tar.gz, tar.xz) and a manifest.

# before image.bbclass's own default
IMAGE_FSTYPES ?= "tar.zst"
inherit image

DEBIAN_ROOTFS = "1"
DEBIAN_VARIANT ?= "minbase"
DEBIAN_PACKAGES ?= ""
DEBIAN_MERGED_USR ?= "1"
DEBIAN_CONFIGURE ?= "0"
DEBIAN_RECOMMENDS ?= "0"
# the suite's signed indexes + DL_DIR's pool, for the rootfs's apt and offline builds
DEBIAN_LOCAL_REPO ?= "${TMPDIR}/debian-repo"
# the rootfs is not made from this build's package feeds
IMAGE_FROM_PACKAGE_FEEDS = "0"
IMAGE_PKGTYPE = ""
KILN_INDEX_VARS += "DEBIAN_ROOTFS DEBIAN_VARIANT DEBIAN_PACKAGES DEBIAN_MERGED_USR DEBIAN_RECOMMENDS"

js do_rootfs () {
    kiln.fatal("do_rootfs has no body: load the @kiln/debian plugin (KILN_PLUGINS)")
}
do_rootfs[recrdeptask] = ""
# a change in the resolved set changes the task through the do_fetch hashes it
# depends on (each carries its package's sha256)
do_rootfs[vardeps] += "DEBIAN_VARIANT DEBIAN_PACKAGES DEBIAN_MERGED_USR DEBIAN_CONFIGURE DEBIAN_RECOMMENDS DEBIAN_ARCH"
do_rootfs[network] = "0"
