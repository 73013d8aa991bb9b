#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gadget-teardown.sh: unbind and remove the printer gadget made by
# gadget-setup.sh (GADGET, default "prengine").  Idempotent: missing parts
# are skipped and a second run does nothing.
set -u

GADGET=${GADGET:-prengine}
G=/sys/kernel/config/usb_gadget/$GADGET
[ -d "$G" ] || exit 0

[ -n "$(cat "$G/UDC" 2>/dev/null)" ] && echo "" > "$G/UDC"
rm -f "$G"/configs/*/printer.*
for d in "$G"/configs/*/strings/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/configs/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/functions/*; do [ -d "$d" ] && rmdir "$d"; done
for d in "$G"/strings/*; do [ -d "$d" ] && rmdir "$d"; done
rmdir "$G"
