#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gadget-setup.sh: create the USB printer gadget through configfs: one
# FunctionFS function ("ffs.$FFS", usb_f_fs) that usbprintd(8) fills in
# with the printer class descriptors, mounted at $FFS_DIR.  Run as root.
#
# The gadget is not bound here: FunctionFS can be bound to a controller
# only once its descriptors are written, so usbprintd binds it (to $UDC, or
# the first controller) when it is ready, and closing ep0 unbinds it.
#
# Environment (defaults in brackets):
#   GADGET     configfs gadget name [prengine]
#   FFS        FunctionFS instance name [prengine]
#   FFS_DIR    its mount point [/dev/usb-ffs/$FFS]
#   UDC        controller whose module to load [dummy_udc.0]
#   VID, PID   ids [0x1d6b, 0x0104 (Linux Foundation multifunction composite)]
#   MANUFACTURER, PRODUCT, SERIAL   strings
# Idempotent: an existing gadget of the same name is torn down first.
set -eu

GADGET=${GADGET:-prengine}
FFS=${FFS:-prengine}
FFS_DIR=${FFS_DIR:-/dev/usb-ffs/$FFS}
UDC=${UDC:-dummy_udc.0}
VID=${VID:-0x1d6b}
PID=${PID:-0x0104}
MANUFACTURER=${MANUFACTURER:-Prengine}
PRODUCT=${PRODUCT:-Prengine USB printer}
SERIAL=${SERIAL:-0001}
CFS=/sys/kernel/config

modprobe libcomposite
modprobe usb_f_fs
case $UDC in dummy_udc.*) modprobe dummy_hcd ;; esac
grep -q " $CFS configfs" /proc/mounts || mount -t configfs none $CFS

GADGET=$GADGET FFS=$FFS FFS_DIR=$FFS_DIR "$(dirname "$0")/gadget-teardown.sh"

G=$CFS/usb_gadget/$GADGET
mkdir -p "$G"
echo "$VID" > "$G/idVendor"
echo "$PID" > "$G/idProduct"
echo 0x0200 > "$G/bcdUSB"
mkdir -p "$G/strings/0x409"
echo "$MANUFACTURER" > "$G/strings/0x409/manufacturer"
echo "$PRODUCT" > "$G/strings/0x409/product"
echo "$SERIAL" > "$G/strings/0x409/serialnumber"
mkdir -p "$G/configs/c.1/strings/0x409"
echo "Printer" > "$G/configs/c.1/strings/0x409/configuration"
echo 2 > "$G/configs/c.1/MaxPower"
mkdir -p "$G/functions/ffs.$FFS"
ln -s "$G/functions/ffs.$FFS" "$G/configs/c.1/"
mkdir -p "$FFS_DIR"
mount -t functionfs "$FFS" "$FFS_DIR"
