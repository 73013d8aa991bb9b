// SPDX-License-Identifier: GPL-2.0
/* cloudprintd's access to the prengine driver; see engine.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "engine.h"

int cp_engine_open(struct cp_engine *e, unsigned int index)
{
	char path[64];
	int grp, r;

	memset(e, 0, sizeof(*e));
	e->index = index;
	snprintf(path, sizeof(path), "/dev/prengine%u", index);
	e->fd = open(path, O_RDWR | O_CLOEXEC);
	if (e->fd < 0)
		return -errno;

	e->events = nl_socket_alloc();
	if (!e->events) {
		r = -ENOMEM;
		goto err;
	}
	if (genl_connect(e->events)) {
		r = -ECONNREFUSED;
		goto err;
	}
	grp = genl_ctrl_resolve_grp(e->events, PRENGINE_GENL_NAME, PRENGINE_GENL_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(e->events, grp)) {
		r = -ENOENT;
		goto err;
	}
	/* Events are unsolicited: no sequence numbers, a roomy buffer. */
	nl_socket_disable_seq_check(e->events);
	nl_socket_set_buffer_size(e->events, 1 << 20, 0);
	nl_socket_set_nonblocking(e->events);
	return 0;
err:
	cp_engine_close(e);
	return r;
}

void cp_engine_close(struct cp_engine *e)
{
	if (e->events)
		nl_socket_free(e->events);
	e->events = NULL;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

int cp_engine_get_state(struct cp_engine *e, uint32_t *state)
{
	struct prengine_state_info st;

	if (ioctl(e->fd, PRENGINE_IOC_GET_STATE, &st))
		return -errno;
	*state = st.state;
	return 0;
}

int cp_engine_set_state(struct cp_engine *e, uint32_t state)
{
	return ioctl(e->fd, PRENGINE_IOC_SET_STATE, &state) ? -errno : 0;
}

int cp_engine_lockdown(struct cp_engine *e, uint32_t state, uint32_t *flushed)
{
	struct prengine_lockdown ld = { .state = state };

	if (ioctl(e->fd, PRENGINE_IOC_LOCKDOWN, &ld))
		return -errno;
	*flushed = ld.flushed;
	return 0;
}

int cp_engine_events_fd(const struct cp_engine *e)
{
	return nl_socket_get_fd(e->events);
}

struct cp_ev_ctx {
	void (*fn)(void *ctx, const struct cp_engine_event *ev);
	void *ctx;
	unsigned int index;
};

static int cp_engine_event_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PRENGINE_A_MAX + 1], *jb[PRENGINE_JOB_A_MAX + 1];
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct cp_ev_ctx *c = arg;
	struct cp_engine_event ev;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PRENGINE_A_MAX, NULL) || !tb[PRENGINE_A_ENGINE] ||
	    nla_get_u32(tb[PRENGINE_A_ENGINE]) != c->index || !tb[PRENGINE_A_JOB])
		return NL_OK;
	if (nla_parse_nested(jb, PRENGINE_JOB_A_MAX, tb[PRENGINE_A_JOB], NULL) ||
	    !jb[PRENGINE_JOB_A_ID])
		return NL_OK;
	memset(&ev, 0, sizeof(ev));
	ev.cmd = gh->cmd;
	ev.job_id = nla_get_u64(jb[PRENGINE_JOB_A_ID]);
	if (jb[PRENGINE_JOB_A_RESULT])
		ev.result = nla_get_u32(jb[PRENGINE_JOB_A_RESULT]);
	if (jb[PRENGINE_JOB_A_CRC32])
		ev.crc32 = nla_get_u32(jb[PRENGINE_JOB_A_CRC32]);
	if (jb[PRENGINE_JOB_A_PRINTED])
		ev.printed = nla_get_u64(jb[PRENGINE_JOB_A_PRINTED]);
	if (jb[PRENGINE_JOB_A_CLOUD_ID])
		nla_strlcpy(ev.cloud_id, jb[PRENGINE_JOB_A_CLOUD_ID], sizeof(ev.cloud_id));
	c->fn(c->ctx, &ev);
	return NL_OK;
}

int cp_engine_events_read(struct cp_engine *e,
			  void (*fn)(void *ctx, const struct cp_engine_event *ev), void *ctx)
{
	struct cp_ev_ctx c = { fn, ctx, e->index };
	int r;

	nl_socket_modify_cb(e->events, NL_CB_VALID, NL_CB_CUSTOM, cp_engine_event_cb, &c);
	for (;;) {
		r = nl_recvmsgs_default(e->events);
		if (r == -NLE_AGAIN)
			return 0;
		if (r == -NLE_NOMEM)
			return -ENOBUFS;
		if (r < 0)
			return -EIO;
	}
}

uint64_t cp_engine_spool_bytes(void)
{
	FILE *f = fopen("/sys/module/prengine/parameters/buffer_kib", "re");
	unsigned long long kib = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &kib) != 1)
		kib = 0;
	fclose(f);
	return kib * 1024;
}

int cp_engine_job_info(struct cp_engine *e, uint64_t id, struct prengine_job_info *info)
{
	memset(info, 0, sizeof(*info));
	info->job_id = id;
	return ioctl(e->fd, PRENGINE_IOC_JOB_INFO, info) ? -errno : 0;
}

int cp_engine_job_begin(struct cp_engine *e, struct cp_engine_job *j, const char *cloud_id,
			const char *name, uint64_t size, bool hold)
{
	struct prengine_job_decl d;
	char path[64];

	memset(&d, 0, sizeof(d));
	d.source = PRENGINE_SOURCE_CLOUD;
	/* Held: nothing prints before the SHA-256 checked out.  A crash aborts it. */
	d.flags = PRENGINE_JOB_F_ABORT_ON_CLOSE | (hold ? PRENGINE_JOB_F_HOLD : 0);
	d.size = size;
	snprintf(d.cloud_id, sizeof(d.cloud_id), "%s", cloud_id);
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(path, sizeof(path), "/dev/prengine%u", e->index);
	/* Non-blocking: the daemon's loop waits for room with epoll. */
	j->fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
	if (j->fd < 0)
		return -errno;
	if (ioctl(j->fd, PRENGINE_IOC_DECLARE_JOB, &d)) {
		int r = -errno;

		close(j->fd);
		j->fd = -1;
		return r;
	}
	j->id = d.job_id;
	return 0;
}

int cp_engine_job_commit(struct cp_engine_job *j)
{
	int r = ioctl(j->fd, PRENGINE_IOC_COMMIT_JOB) ? -errno : 0;

	close(j->fd);
	j->fd = -1;
	return r;
}

void cp_engine_job_abort(struct cp_engine_job *j)
{
	if (j->fd < 0)
		return;
	ioctl(j->fd, PRENGINE_IOC_ABORT_JOB);
	close(j->fd);
	j->fd = -1;
}
