# deploy: kept for layers written for OpenEmbedded, which `inherit deploy`; the
# do_deploy shared state settings live in base.bbclass.
