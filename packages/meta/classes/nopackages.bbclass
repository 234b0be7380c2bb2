# nopackages: a recipe that makes no packages (native.bbclass inherits it), as
# OpenEmbedded's class of that name: the packaging tasks, and their setscene tasks,
# removed from the recipe whichever backends INHERIT added.
deltask do_package
deltask do_package_write_rpm
deltask do_package_write_ipk
deltask do_package_write_deb
deltask do_package_write_tar
deltask do_package_qa
deltask do_packagedata
deltask do_package_setscene
deltask do_package_write_rpm_setscene
deltask do_package_write_ipk_setscene
deltask do_package_write_deb_setscene
deltask do_package_qa_setscene
deltask do_packagedata_setscene
