#!/bin/sh
# Install every Debian package the project needs to build, test and demo,
# including the kernels of the driver's matrix (6.1, 6.12, 6.12-rt: see
# scripts/kernel-version --matrix).
# Idempotent: when everything is present it only runs dpkg-query (about a second).
set -eu

PKGS="
build-essential make gcc clang llvm libclang-rt-14-dev sparse pkg-config
linux-image-amd64 linux-headers-amd64 linux-source-6.1
linux-image-6.12-amd64 linux-headers-6.12-amd64
linux-image-6.12-rt-amd64 linux-headers-6.12-rt-amd64
qemu-system-x86 busybox-static cpio kmod iproute2 udev systemd
libcurl4-openssl-dev libcjson-dev libssl-dev libnl-3-dev libnl-genl-3-dev
libudev-dev libusb-1.0-0-dev libcmocka-dev
cups
python3 openssl curl xz-utils
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
