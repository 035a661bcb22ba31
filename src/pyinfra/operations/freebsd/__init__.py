"""FreeBSD: pkg, freebsd_update, service, sysrc."""
