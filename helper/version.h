/* SPDX-License-Identifier: GPL-2.0 */
/* The helpers' version, as --version and the User-Agent show it. */
#ifndef CP_VERSION_H
#define CP_VERSION_H

#define CP_VERSION	"0.1"

#endif
