/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket: a Unix stream socket; a client sends one command
 * line ("status", "register", "resolve delete", ...) and gets one JSON
 * object back, then the connection closes.  docs/helper.md lists the
 * commands.
 *
 * Every client is non-blocking and bounded: it has CP_CONTROL_DEADLINE_MS
 * to send its line, at most CP_CONTROL_CLIENTS_MAX wait at once, and the
 * event loop never waits for one.  Every command is authorised by the
 * peer's credentials (SO_PEERCRED, SO_PEERGROUPS) before it runs.
 */
#ifndef CP_CONTROL_H
#define CP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "watch.h"

#define CP_CONTROL_LINE_MAX		512
#define CP_CONTROL_CLIENTS_MAX		16
#define CP_CONTROL_DEADLINE_MS		2000
#define CP_CONTROL_PEER_GROUPS_MAX	64
/* No group configured. */
#define CP_CONTROL_NO_GROUP		((gid_t)-1)

struct cp_control;

/* Who is at the other end of a connection, as the kernel says. */
struct cp_control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[CP_CONTROL_PEER_GROUPS_MAX];	/* supplementary */
	size_t n_groups;
};

enum cp_control_need {
	CP_CONTROL_READ,	/* shows state: status */
	CP_CONTROL_CHANGE,	/* changes state: everything else */
};

/* What @line needs; anything not known to be read-only changes state. */
enum cp_control_need cp_control_need(const char *line);
/*
 * May @peer run a command that needs @need?  Root may run everything;
 * members of @admin_gid too; members of @sock_gid may read.  Either gid may
 * be CP_CONTROL_NO_GROUP.
 */
bool cp_control_allowed(const struct cp_control_peer *peer, enum cp_control_need need,
			gid_t sock_gid, gid_t admin_gid);
/*
 * A group given by name or number, as a config key names it.  Returns 0,
 * -ENOENT if there is no such group.  "" gives CP_CONTROL_NO_GROUP.
 */
int cp_control_group(const char *name, gid_t *gid);

/*
 * Handle @line from the client on @fd: write the reply with
 * cp_control_reply() now or later (e.g. "register" answers once the cloud
 * has), then the connection is closed.  Called only for allowed commands.
 */
typedef void (*cp_control_fn)(void *ctx, int fd, const char *line);

/*
 * Listen on @path (mode 0660, group @sock_gid if set); refuses to take over
 * a socket another process still answers on.  State changes are allowed to
 * root and @admin_gid.
 */
struct cp_control *cp_control_new(int epfd, const char *path, gid_t sock_gid, gid_t admin_gid,
				  cp_control_fn fn, void *ctx);
void cp_control_free(struct cp_control *c);
/* Send @json (one line) to client @fd and close it. */
void cp_control_reply(int fd, const char *json);

#endif
