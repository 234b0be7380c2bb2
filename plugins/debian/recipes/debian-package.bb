# The recipe of every binary package of the configured Debian suite. @kiln/debian
# parses it once and gives each package a copy with its own PN, PV, DEBIAN_* values
# (see src/synth.ts): it is not in BBFILES and never parsed per package.
inherit debian-package
