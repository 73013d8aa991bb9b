#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gadget-teardown.sh: unbind and remove the printer gadget made by
# gadget-setup.sh (GADGET, FFS, FFS_DIR as there).  Idempotent: missing parts
# are skipped and a second run does nothing.  Stop usbprintd first: its
# FunctionFS mount cannot be removed while it holds ep0.
set -u

GADGET=${GADGET:-prengine}
FFS=${FFS:-prengine}
FFS_DIR=${FFS_DIR:-/dev/usb-ffs/$FFS}
G=/sys/kernel/config/usb_gadget/$GADGET

if [ -d "$G" ] && [ -n "$(cat "$G/UDC" 2>/dev/null)" ]; then
	echo "" > "$G/UDC"
fi
if grep -q " $FFS_DIR functionfs " /proc/mounts; then
	umount "$FFS_DIR" || { echo "gadget-teardown.sh: $FFS_DIR busy (stop usbprintd)" >&2; exit 1; }
fi
[ -d "$FFS_DIR" ] && rmdir "$FFS_DIR" 2>/dev/null
[ -d "$G" ] || exit 0
rm -f "$G"/configs/*/ffs.* "$G"/configs/*/printer.*
for d in "$G"/configs/*/strings/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/configs/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/functions/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/strings/*; do [ -d "$d" ] && rmdir "$d"; done
rmdir "$G"
