/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket: a Unix stream socket; a client sends one command
 * line ("status", "register", "resolve delete", ...) and gets one JSON
 * object back, then the connection closes.  docs/helper.md lists the
 * commands.
 */
#ifndef CP_CONTROL_H
#define CP_CONTROL_H

#include "watch.h"

struct cp_control;

/*
 * Handle @line from the client on @fd: write the reply with
 * cp_control_reply() now or later (e.g. "register" answers once the cloud
 * has), then the connection is closed.
 */
typedef void (*cp_control_fn)(void *ctx, int fd, const char *line);

struct cp_control *cp_control_new(int epfd, const char *path, cp_control_fn fn, void *ctx);
void cp_control_free(struct cp_control *c);
/* Send @json (one line) to client @fd and close it. */
void cp_control_reply(int fd, const char *json);

#endif
