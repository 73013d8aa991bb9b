# SPDX-License-Identifier: GPL-2.0
#
# prengine + cloudprintd.  The two commands a user needs:
#   make demo    the whole stack in a throw-away VM (see README.md)
#   make check   every test: host unit tests (also with ASan+UBSan), the
#                reference cloud's tests, the VM runner's self-test and
#                every guest suite under tests/vm/; ends "N passed, N failed"
#
# The module is built against the installed Debian linux-headers-amd64,
# never against `uname -r` (the host may run another kernel).  Override
# with KDIR=/path/to/kernel/build.

KVER ?= $(shell scripts/kernel-version 2>/dev/null)
KDIR ?= /lib/modules/$(KVER)/build
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UDEVDIR ?= /lib/udev/rules.d
UNITDIR ?= /lib/systemd/system
DESTDIR ?=

all: modules helpers

deps:
	@scripts/deps.sh

modules:
	@test -d "$(KDIR)" || { echo "KDIR=$(KDIR) does not exist: run scripts/deps.sh or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

helpers:
	$(MAKE) -C helper

# The kernel's own checkers on the driver.
sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 W=1 modules

style:
	@scripts/checkpatch $(filter-out %.mod.c,$(wildcard driver/*.c)) driver/*.h

check:
	@scripts/check

demo:
	@scripts/demo $(DEMO_ARGS)

bench:
	@scripts/bench

install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=extra modules_install
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	for p in cloudprintd usbprintd; do \
		test ! -x build/helper/$$p || install -m 0755 build/helper/$$p $(DESTDIR)$(SBINDIR)/; done
	test ! -x build/helper/cloudprintctl || install -m 0755 build/helper/cloudprintctl $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(PREFIX)/lib/prengine
	install -m 0755 scripts/gadget-setup.sh scripts/gadget-teardown.sh $(DESTDIR)$(PREFIX)/lib/prengine/
	install -d $(DESTDIR)$(PREFIX)/include/linux
	install -m 0644 include/uapi/linux/prengine.h $(DESTDIR)$(PREFIX)/include/linux/
	if ls udev/*.rules >/dev/null 2>&1; then \
		install -d $(DESTDIR)$(UDEVDIR) && install -m 0644 udev/*.rules $(DESTDIR)$(UDEVDIR)/; fi
	if ls systemd/*.service >/dev/null 2>&1; then \
		install -d $(DESTDIR)$(UNITDIR) && install -m 0644 systemd/*.service $(DESTDIR)$(UNITDIR)/; fi
	for s in 1 8; do \
		if ls docs/man/*.$$s >/dev/null 2>&1; then \
			install -d $(DESTDIR)$(MANDIR)/man$$s && install -m 0644 docs/man/*.$$s $(DESTDIR)$(MANDIR)/man$$s/; fi; done

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/tests/runner clean
	rm -rf build

.PHONY: all deps modules helpers sparse style check demo bench install clean
