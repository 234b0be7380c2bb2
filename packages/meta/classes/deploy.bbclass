# deploy: a recipe that puts files into DEPLOY_DIR_IMAGE (kernels, boot loaders,
# images) writes them to ${DEPLOYDIR} in its do_deploy; shared state archives that
# and merges it into DEPLOY_DIR_IMAGE with a manifest (as OpenEmbedded's deploy class).
DEPLOYDIR = "${WORKDIR}/deploy-${PN}"
SSTATETASKS += "do_deploy"
do_deploy[sstate-inputdirs] = "${DEPLOYDIR}"
do_deploy[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
do_deploy[dirs] = "${B}"
do_deploy[cleandirs] = "${DEPLOYDIR}"
addtask deploy_setscene
