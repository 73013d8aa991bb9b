// SPDX-License-Identifier: GPL-2.0
/* Helpers for the prengine guest tests; see prtest.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "prtest.h"

uint32_t pr_crc32(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	size_t i;

	if (!table[1]) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t c = n;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
			table[n] = c;
		}
	}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void pr_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761U + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
}

uint64_t pr_declare(int fd, uint32_t source, uint32_t flags, uint64_t size,
		    const char *name, const char *cloud_id)
{
	struct prengine_job_decl d;

	memset(&d, 0, sizeof(d));
	d.source = source;
	d.flags = flags;
	d.size = size;
	snprintf(d.name, sizeof(d.name), "%s", name ? name : "");
	snprintf(d.cloud_id, sizeof(d.cloud_id), "%s", cloud_id ? cloud_id : "");
	if (ioctl(fd, PRENGINE_IOC_DECLARE_JOB, &d))
		return 0;
	return d.job_id;
}

int pr_job_info(int fd, uint64_t id, struct prengine_job_info *info)
{
	memset(info, 0, sizeof(*info));
	info->job_id = id;
	return ioctl(fd, PRENGINE_IOC_JOB_INFO, info);
}

int pr_wait_job(int fd, uint64_t id, struct prengine_job_info *info, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if (pr_job_info(fd, id, info) == 0 && info->state == PRENGINE_JOB_COMPLETE)
			return 0;
		usleep(10000);
	}
	return -1;
}

int pr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len > (1 << 20) ? 1 << 20 : len);

		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int pr_sysfs_read(const char *attr, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PR_SYSFS "%s", attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

long pr_sysfs_long(const char *attr)
{
	char buf[64];

	if (pr_sysfs_read(attr, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 0);
}

int pr_sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

int pr_set_state(uint32_t state)
{
	int fd = open(PR_DEV, O_RDWR);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, PRENGINE_IOC_SET_STATE, &state) ? -errno : 0;
	close(fd);
	return ret;
}

int pr_fault(const char *fault)
{
	return pr_sysfs_write(PR_DEBUGFS "fault", fault);
}

int pr_speed(uint64_t bps)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)bps);
	return pr_sysfs_write(PR_DEBUGFS "speed_bps", v);
}

/* ---- generic netlink ---- */

static int pr_family = -1;
uint8_t pr_nl_reserved;

static struct nl_sock *pr_nl_sock(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	if (pr_family < 0)
		pr_family = genl_ctrl_resolve(sk, PRENGINE_GENL_NAME);
	return sk;
}

void pr_nl_forget(void)
{
	pr_family = -1;
}

int pr_nl_family(void)
{
	struct nl_sock *sk = pr_nl_sock();

	if (sk)
		nl_socket_free(sk);
	return pr_family;
}

static void pr_nl_parse(struct nl_msg *msg, struct pr_nl_reply *r)
{
	struct nlattr *tb[PRENGINE_A_MAX + 1], *jb[PRENGINE_JOB_A_MAX + 1];
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));

	memset(r, 0, sizeof(*r));
	r->cmd = gh->cmd;
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PRENGINE_A_MAX, NULL))
		return;
	if (tb[PRENGINE_A_STATE])
		r->state = nla_get_u32(tb[PRENGINE_A_STATE]);
	if (tb[PRENGINE_A_FLUSHED]) {
		r->flushed = nla_get_u32(tb[PRENGINE_A_FLUSHED]);
		r->has_flushed = true;
	}
	if (tb[PRENGINE_A_ENGINE_STATUS])
		r->status = nla_get_u32(tb[PRENGINE_A_ENGINE_STATUS]);
	if (tb[PRENGINE_A_QUEUE_DEPTH])
		r->depth = nla_get_u32(tb[PRENGINE_A_QUEUE_DEPTH]);
	if (tb[PRENGINE_A_JOB] &&
	    !nla_parse_nested(jb, PRENGINE_JOB_A_MAX, tb[PRENGINE_A_JOB], NULL)) {
		if (jb[PRENGINE_JOB_A_ID])
			r->job_id = nla_get_u64(jb[PRENGINE_JOB_A_ID]);
		if (jb[PRENGINE_JOB_A_RESULT])
			r->job_result = nla_get_u32(jb[PRENGINE_JOB_A_RESULT]);
		if (jb[PRENGINE_JOB_A_CRC32])
			r->job_crc = nla_get_u32(jb[PRENGINE_JOB_A_CRC32]);
		if (jb[PRENGINE_JOB_A_STATE])
			r->job_state = nla_get_u32(jb[PRENGINE_JOB_A_STATE]);
		if (jb[PRENGINE_JOB_A_SOURCE])
			r->job_source = nla_get_u32(jb[PRENGINE_JOB_A_SOURCE]);
		if (jb[PRENGINE_JOB_A_BYTES])
			r->job_bytes = nla_get_u64(jb[PRENGINE_JOB_A_BYTES]);
	}
}

struct pr_nl_ctx {
	int ret;		/* 1 waiting, 0 done, <0 -errno */
	struct pr_nl_reply *out;
	int n, max;
};

static int pr_nl_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct pr_nl_ctx *c = arg;

	(void)nla;
	c->ret = err->error;
	return NL_STOP;
}

static int pr_nl_done_cb(struct nl_msg *msg, void *arg)
{
	struct pr_nl_ctx *c = arg;

	(void)msg;
	c->ret = 0;
	return NL_STOP;
}

static int pr_nl_valid_cb(struct nl_msg *msg, void *arg)
{
	struct pr_nl_ctx *c = arg;

	if (c->out && c->n < c->max)
		pr_nl_parse(msg, &c->out[c->n]);
	c->n++;
	return NL_OK;
}

static int pr_nl_exchange(int cmd, int flags, const struct pr_nl_attr *attrs,
			  struct pr_nl_reply *out, int max)
{
	struct pr_nl_ctx c = { .ret = 1, .out = out, .max = max };
	struct nl_sock *sk = pr_nl_sock();
	struct nl_msg *msg;
	struct nl_cb *cb;

	if (!sk || pr_family < 0)
		return -ENOENT;
	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, pr_family, 0, flags, cmd,
		    PRENGINE_GENL_VERSION);
	((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(msg)))->reserved = pr_nl_reserved;
	for (; attrs && attrs->type; attrs++) {
		if (attrs->len)
			nla_put(msg, attrs->type, attrs->len, attrs->data);
		else
			nla_put_u32(msg, attrs->type, attrs->u32);
	}
	nl_cb_err(cb, NL_CB_CUSTOM, pr_nl_err_cb, &c);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, pr_nl_done_cb, &c);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, pr_nl_done_cb, &c);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, pr_nl_valid_cb, &c);
	if (nl_send_auto(sk, msg) < 0)
		c.ret = -EIO;
	while (c.ret > 0)
		if (nl_recvmsgs(sk, cb) < 0 && c.ret > 0)
			c.ret = -EIO;
	nl_cb_put(cb);
	nlmsg_free(msg);
	nl_socket_free(sk);
	if (c.ret < 0)
		return c.ret;
	return c.n;
}

int pr_nl_call(int cmd, const struct pr_nl_attr *attrs, struct pr_nl_reply *reply)
{
	struct pr_nl_reply dummy;
	int ret = pr_nl_exchange(cmd, 0, attrs, reply ? reply : &dummy, 1);

	return ret < 0 ? ret : 0;
}

int pr_nl_list_jobs(struct pr_nl_reply *out, int max)
{
	struct pr_nl_attr a[] = { { .type = PRENGINE_A_ENGINE, .u32 = 0 }, { 0 } };

	return pr_nl_exchange(PRENGINE_CMD_LIST_JOBS, NLM_F_DUMP, a, out, max);
}

struct pr_listener {
	struct nl_sock *sk;
	struct pr_nl_reply *ev;
	bool got;
};

static int pr_listen_cb(struct nl_msg *msg, void *arg)
{
	struct pr_listener *l = arg;

	pr_nl_parse(msg, l->ev);
	l->got = true;
	return NL_STOP;
}

struct pr_listener *pr_listen(void)
{
	struct pr_listener *l = calloc(1, sizeof(*l));
	int grp;

	l->sk = pr_nl_sock();
	if (!l->sk)
		goto err;
	grp = genl_ctrl_resolve_grp(l->sk, PRENGINE_GENL_NAME, PRENGINE_GENL_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(l->sk, grp))
		goto err;
	nl_socket_disable_seq_check(l->sk);
	nl_socket_set_buffer_size(l->sk, 4 << 20, 0);
	nl_socket_modify_cb(l->sk, NL_CB_VALID, NL_CB_CUSTOM, pr_listen_cb, l);
	return l;
err:
	if (l->sk)
		nl_socket_free(l->sk);
	free(l);
	return NULL;
}

int pr_listen_next(struct pr_listener *l, struct pr_nl_reply *ev, int timeout_ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(l->sk), .events = POLLIN };

	l->ev = ev;
	l->got = false;
	while (!l->got) {
		int r = poll(&p, 1, timeout_ms);

		if (r <= 0)
			return r;
		if (nl_recvmsgs_default(l->sk) < 0)
			return -EIO;
	}
	return 1;
}

void pr_listen_close(struct pr_listener *l)
{
	nl_socket_free(l->sk);
	free(l);
}
