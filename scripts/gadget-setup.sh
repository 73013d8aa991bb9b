#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gadget-setup.sh: create a USB printer gadget through configfs (function
# "printer" of usb_f_printer) and bind it to a UDC.  Run as root.
#
# Environment (defaults in brackets):
#   GADGET     configfs gadget name [prengine]
#   UDC        controller to bind to [dummy_udc.0]
#   VID, PID   ids [0x1d6b, 0x0104 (Linux Foundation multifunction composite)]
#   MANUFACTURER, PRODUCT, SERIAL   strings
#   PNP        IEEE 1284 device ID [MFG:Prengine;MDL:Sim;CMD:PJL,PCL,PDF;CLS:PRINTER;]
#   Q_LEN      f_printer request queue length [10]
# Idempotent: an existing gadget of the same name is torn down first.
set -eu

GADGET=${GADGET:-prengine}
UDC=${UDC:-dummy_udc.0}
VID=${VID:-0x1d6b}
PID=${PID:-0x0104}
MANUFACTURER=${MANUFACTURER:-Prengine}
PRODUCT=${PRODUCT:-Prengine USB printer}
SERIAL=${SERIAL:-0001}
PNP=${PNP:-MFG:Prengine;MDL:Sim;CMD:PJL,PCL,PDF;CLS:PRINTER;}
Q_LEN=${Q_LEN:-10}
CFS=/sys/kernel/config

modprobe libcomposite
modprobe usb_f_printer
case $UDC in dummy_udc.*) modprobe dummy_hcd ;; esac
grep -q " $CFS configfs" /proc/mounts || mount -t configfs none $CFS

"$(dirname "$0")/gadget-teardown.sh"

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
mkdir -p "$G/functions/printer.usb0"
# f_printer (6.1) answers GET_DEVICE_ID with a length field of strlen(pnp)
# and sends that many bytes, prefix included: the class spec wants the
# prefix counted.  Two padding bytes make the answer conform (length =
# string + 2, whole string sent).
printf '%s  ' "$PNP" > "$G/functions/printer.usb0/pnp_string"
echo "$Q_LEN" > "$G/functions/printer.usb0/q_len"
ln -s "$G/functions/printer.usb0" "$G/configs/c.1/"
echo "$UDC" > "$G/UDC"
