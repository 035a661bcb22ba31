#!/usr/bin/env bash
# The package-manager test target: image pyi-pkg-target:bookworm (issue 10's tests).
#
# Usage: bash scripts/setup-pkg.sh        (root, Debian 12, after scripts/setup-docker.sh)
#
# FROM pyinfra-test-sshd:bookworm (openssh-server + sudo) it adds the real package
# managers Debian 12 ships (apt, dnf, rpm, zypper, pacman, pip, virtualenv, pipx, uv)
# and local repositories built inside the image, so the container never needs a network:
#
#   /srv/pyi/apt        flat apt repository signed with a key made at build time
#                       (public key: /srv/pyi/keys/pyi-repo.asc); tiny packages built
#                       with dpkg-deb (pyi-hello 1.0 and 2.0, pyi-other, pyi-tool ->
#                       pyi-dep) and `hello` + `tree` fetched with `apt-get download`
#   /srv/pyi/debs       pyi-local_1.0_all.deb (depends on pyi-dep), for apt.deb
#   /srv/pyi/rpm        rpm-md repository (rpmbuild + createrepo_c): pyi-hello 1.0/2.0,
#                       pyi-other; /srv/pyi/rpms/pyi-local-1.0-1.noarch.rpm for *.rpm ops
#                       (files under /usr/share/pyi-rpm, pacman's under /usr/share/pyi-pacman:
#                       the managers share one filesystem and must not collide)
#   /srv/pyi/pacman     pacman repository [pyi] (configured in /etc/pacman.conf, synced)
#   /srv/pyi/wheels     wheelhouse from `pip download` (six 1.16/1.17, toml, cowsay,
#                       pip/setuptools/wheel for pipx); /etc/pip.conf and /etc/uv/uv.toml
#                       make pip and uv use only it (--no-index --find-links)
#
# The Debian network source is removed from the image: apt sees only what tests add.
# Idempotent and cached: nothing happens when the image exists (rebuild with
# PYI_PKG_REBUILD=1). CI=true makes a failure fail the run (scripts/setup-targets.sh).
set -euo pipefail

CACHE=${PYINFRA_TEST_CACHE:-/var/cache/pyinfra-test}
IMAGE=pyi-pkg-target:bookworm
BASE=pyinfra-test-sshd:bookworm
WHEELS=$CACHE/pyi-pkg-wheels
# Wheels for the wheelhouse (one `pip download` each: two versions of six conflict).
WHEEL_SPECS=(six==1.16.0 six==1.17.0 toml==0.10.2 cowsay==6.1 pip==24.0 setuptools==69.5.1
  wheel==0.43.0 uv==0.8.5)

log() { printf '[setup-pkg] %s\n' "$*" >&2; }
die() { printf '[setup-pkg] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (docker)"
if [ -z "${PYI_PKG_REBUILD:-}" ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/pyi-pkg-setup.lock"
flock 9

docker image inspect "$BASE" >/dev/null 2>&1 \
  || bash "$(dirname "$0")/setup-docker.sh" packages dockerd sshd \
  || die "$BASE is missing and scripts/setup-docker.sh could not build it"

mkdir -p "$WHEELS"
for spec in "${WHEEL_SPECS[@]}"; do
  name=${spec%%==*}
  version=${spec#*==}
  ls "$WHEELS/${name}-${version}-"*.whl >/dev/null 2>&1 && continue
  log "pip download $spec"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$WHEELS" "$spec" 2>/dev/null \
    || die "pip download $spec failed"
done

ctx=$(mktemp -d /tmp/pyi-pkg-build.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/wheels"
cp "$WHEELS"/*.whl "$ctx/wheels/"

cat >"$ctx/build-repos.sh" <<'SCRIPT'
#!/bin/bash
# Runs inside the image build: makes every local repository under /srv/pyi.
set -euo pipefail
S=/srv/pyi
mkdir -p $S/apt $S/debs $S/rpm $S/rpms $S/pacman $S/keys
work=$(mktemp -d)

# --- apt: tiny .debs ----------------------------------------------------------------
deb() { # name version dest [depends]
  local d=$work/deb-$1-$2
  mkdir -p "$d/DEBIAN" "$d/usr/share/$1"
  echo "$1 $2" >"$d/usr/share/$1/VERSION"
  {
    echo "Package: $1"; echo "Version: $2"; echo "Architecture: all"
    echo "Maintainer: pyinfra tests <tests@pyinfra.invalid>"; echo "Section: misc"
    echo "Priority: optional"; [ -n "${4:-}" ] && echo "Depends: $4"
    echo "Description: pyinfra test package $1"; echo " Installs /usr/share/$1/VERSION."
  } >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -b "$d" "$3/${1}_${2}_all.deb" >/dev/null
}
deb pyi-hello 1.0 $S/apt
deb pyi-hello 2.0 $S/apt
deb pyi-other 1.0 $S/apt
deb pyi-dep 1.0 $S/apt
deb pyi-tool 1.0 $S/apt pyi-dep
deb pyi-local 1.0 $S/debs pyi-dep
deb pyi-local 2.0 $S/debs pyi-dep
(cd $S/apt && apt-get download hello tree >/dev/null)

# --- apt: a signing key and a signed flat repository ---------------------------------
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --passphrase '' --quick-gen-key 'pyinfra test repo <repo@pyinfra.invalid>' \
  ed25519 sign never 2>/dev/null
gpg -q --batch --passphrase '' --quick-gen-key 'pyinfra other key <other@pyinfra.invalid>' \
  ed25519 sign never 2>/dev/null
gpg --armor --export repo@pyinfra.invalid >$S/keys/pyi-repo.asc
gpg --export repo@pyinfra.invalid >$S/keys/pyi-repo.gpg
gpg --armor --export other@pyinfra.invalid >$S/keys/pyi-other.asc
(
  cd $S/apt
  dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
  gzip -9kn Packages
  apt-ftparchive -o APT::FTPArchive::Release::Origin=pyinfra-tests \
    -o APT::FTPArchive::Release::Label=pyi -o APT::FTPArchive::Release::Suite=stable \
    release . >Release
  gpg -q --batch --yes -u repo@pyinfra.invalid --clearsign -o InRelease Release
  gpg -q --batch --yes -u repo@pyinfra.invalid -abs -o Release.gpg Release
)

# --- rpm: rpmbuild + createrepo_c ------------------------------------------------------
rpmpkg() { # name version dest
  mkdir -p $work/rpmbuild/SPECS
  local spec=$work/rpmbuild/SPECS/$1-$2.spec
  printf '%s\n' "Name: $1" "Version: $2" "Release: 1" "Summary: pyinfra test package $1" \
    "License: MIT" "BuildArch: noarch" "%description" "pyinfra test package $1" "%install" \
    "mkdir -p %{buildroot}/usr/share/pyi-rpm" "echo '$1 $2' > %{buildroot}/usr/share/pyi-rpm/$1" \
    "%files" "/usr/share/pyi-rpm/$1" >"$spec"
  rpmbuild --quiet --define "_topdir $work/rpmbuild" --define "_rpmdir $3" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' -bb "$spec" \
    >/dev/null 2>&1
}
rpmpkg pyi-hello 1.0 $S/rpm
rpmpkg pyi-hello 2.0 $S/rpm
rpmpkg pyi-other 1.0 $S/rpm
rpmpkg pyi-local 1.0 $S/rpms
createrepo_c -q $S/rpm >/dev/null 2>&1

# --- pacman: packages and a repository database written by hand ----------------------
# (Debian's repo-add lacks makepkg's helper scripts.)
pacpkg() { # name version group
  local d=$work/pac-$1-$2
  mkdir -p "$d/usr/share/pyi-pacman"
  echo "$1 $2" >"$d/usr/share/pyi-pacman/$1"
  printf '%s\n' "pkgname = $1" "pkgbase = $1" "pkgver = $2-1" "pkgdesc = pyinfra test $1" \
    "url = http://pyinfra.invalid" "builddate = 1700000000" "packager = pyinfra tests" \
    "size = 16" "arch = any" "license = MIT" "group = $3" >"$d/.PKGINFO"
  (cd "$d" && bsdtar --zstd -cf "$S/pacman/$1-$2-1-any.pkg.tar.zst" .PKGINFO usr)
}
pacpkg pyi-hello 1.0 pyi-group
pacpkg pyi-hello 2.0 pyi-group
pacpkg pyi-other 1.0 pyi-group
pacdb=$work/pacdb
mkdir -p $pacdb
for f in pyi-hello-2.0-1-any.pkg.tar.zst pyi-other-1.0-1-any.pkg.tar.zst; do
  name=${f%-*-*-*}; rest=${f#"$name"-}; ver=${rest%-any.pkg.tar.zst}
  mkdir "$pacdb/$name-$ver"
  printf '%%%s%%\n%s\n\n' FILENAME "$f" NAME "$name" VERSION "$ver" DESC "pyinfra test $name" \
    CSIZE "$(stat -c %s $S/pacman/$f)" ISIZE 16 SHA256SUM "$(sha256sum $S/pacman/$f | cut -d' ' -f1)" \
    GROUPS pyi-group ARCH any BUILDDATE 1700000000 PACKAGER 'pyinfra tests' \
    >"$pacdb/$name-$ver/desc"
done
(cd $pacdb && bsdtar -czf $S/pacman/pyi.db.tar.gz -- *)
ln -sf pyi.db.tar.gz $S/pacman/pyi.db

chmod -R a+rX $S
rm -rf "$work"
SCRIPT

cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      dnf rpm zypper pacman-package-manager createrepo-c libarchive-tools zstd \\
      dpkg-dev apt-utils gnupg lsb-release python3-venv python3-pip virtualenv pipx \\
      >/dev/null
COPY wheels /srv/pyi/wheels
COPY build-repos.sh /usr/local/sbin/pyi-build-repos
RUN bash /usr/local/sbin/pyi-build-repos \\
 && rm -rf /var/lib/apt/lists/* /etc/apt/sources.list /etc/apt/sources.list.d/* \\
      /var/cache/apt/*.bin \\
 && printf '[global]\\nno-index = true\\nfind-links = /srv/pyi/wheels\\nbreak-system-packages = true\\n' >/etc/pip.conf \\
 && mkdir -p /etc/uv && printf 'no-index = true\\nfind-links = ["/srv/pyi/wheels"]\\n' >/etc/uv/uv.toml \\
 && python3 -m pip install -q --no-cache-dir uv==0.8.5 \\
 && mkdir -p /etc/rpm /etc/dnf/vars /etc/yum.repos.d \\
 && echo '%_dbpath /var/lib/rpm' >/etc/rpm/macros \\
 && echo 12 >/etc/dnf/vars/releasever \\
 && rpm --initdb \\
 && printf '[pyi]\\nSigLevel = Never\\nServer = file:///srv/pyi/pacman\\n' >>/etc/pacman.conf \\
 && mkdir -p /var/lib/pacman && pacman -Sy --noconfirm >/dev/null
EOF

log "building $IMAGE from $BASE (~2 minutes)"
DOCKER_BUILDKIT=0 docker build --network host -q -t "$IMAGE" "$ctx" >"$ctx/build.log" 2>&1 \
  || { tail -n 20 "$ctx/build.log" >&2; die "building $IMAGE failed"; }
log "built $IMAGE"
