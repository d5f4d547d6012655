#!/usr/bin/env bash
# Installs podman (with runc) when it is missing and builds, offline from
# Debian's packages, the images that Atrium's tests and examples use:
#
#   localhost/atrium/busybox:latest   busybox-static and a passwd file (seconds)
#   localhost/atrium/pytorch:cpu      Debian bookworm with python3-torch 1.13
#                                     and numpy (mmdebstrap: about 150 s plus
#                                     25 s to import on a fresh machine)
#
#   scripts/images-up.sh              # both
#   scripts/images-up.sh busybox      # only the small one
#
# Each image is labelled with the hash of its recipe and rebuilt only when
# the recipe changes. The PyTorch root filesystem is also cached as a tar
# under $ATRIUM_IMAGE_CACHE (default /var/cache/atrium-images), outside the
# checkout, so a machine whose image store was wiped imports it again in
# seconds instead of rebuilding.
set -euo pipefail

cache=${ATRIUM_IMAGE_CACHE:-/var/cache/atrium-images}
want=${*:-busybox pytorch}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$1 is not installed; run as root or: sudo apt-get install -y $2" >&2
		exit 1
	fi
}

apt_install() {
	local log
	log=$(mktemp)
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
		cat "$log" >&2
		exit 1
	fi
	rm -f "$log"
}

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
	need_root podman "podman runc"
	apt_install podman runc netavark aardvark-dns uidmap
fi

# has IMAGE RECIPE: the image is in podman's store, built from RECIPE.
has() {
	[ "$(podman image inspect --format '{{index .Labels "atrium.recipe"}}' "$1" 2>/dev/null || true)" = "$2" ]
}

recipe_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

build_busybox() {
	local image=localhost/atrium/busybox:latest
	[ -x /bin/busybox ] || { need_root busybox busybox-static; apt_install busybox-static; }
	local recipe
	recipe=$(recipe_of busybox-v1 "$(busybox 2>&1 | head -1)")
	if has "$image" "$recipe"; then
		echo "$image is current"
		return
	fi
	local root
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,etc,tmp,home/atrium,proc,sys,dev}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for cmd in $(busybox --list); do
		[ "$cmd" = busybox ] || ln -s busybox "$root/bin/$cmd"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\natrium:x:1000:1000:atrium:/home/atrium:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\natrium:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf 'NAME="Atrium busybox"\nID=atrium-busybox\nPRETTY_NAME="Atrium busybox (static)"\n' >"$root/etc/os-release"
	tar -C "$root" -cf "$root.tar" .
	podman import --quiet --change "LABEL atrium.recipe=$recipe" --change "ENV PATH=/bin" \
		--change 'CMD ["/bin/sh"]' "$root.tar" "$image" >/dev/null
	rm -rf "$root" "$root.tar"
	echo "built $image"
}

build_pytorch() {
	local image=localhost/atrium/pytorch:cpu
	local suite=bookworm pkgs=python3-torch,python3-numpy,ca-certificates
	local recipe
	recipe=$(recipe_of pytorch-v1 "$suite" "$pkgs")
	if has "$image" "$recipe"; then
		echo "$image is current"
		return
	fi
	local tar="$cache/pytorch-$recipe.tar"
	if [ ! -s "$tar" ]; then
		command -v mmdebstrap >/dev/null 2>&1 || { need_root mmdebstrap mmdebstrap; apt_install mmdebstrap; }
		mkdir -p "$cache"
		echo "building $image with mmdebstrap (about 150 s)"
		# Written aside and renamed, so an interrupted build is never taken
		# for a cached one.
		mmdebstrap --quiet --mode=root --format=tar --variant=apt --include="$pkgs" --skip=check/empty \
			--customize-hook='chroot "$1" useradd --uid 1000 --create-home --shell /bin/bash atrium' \
			"$suite" "$tar.part"
		mv "$tar.part" "$tar"
	fi
	podman import --quiet --change "LABEL atrium.recipe=$recipe" \
		--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		--change 'CMD ["/bin/bash"]' "$tar" "$image" >/dev/null
	echo "built $image"
}

for w in $want; do
	case $w in
	busybox) build_busybox ;;
	pytorch) build_pytorch ;;
	*) echo "unknown image $w (want busybox or pytorch)" >&2; exit 2 ;;
	esac
done
