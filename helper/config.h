/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cloudprintd configuration: a JSON object, every key optional, every key
 * documented in docs/helper.md.  Parsing checks every value and names the
 * key in its error; unknown keys are errors, so a typo never passes
 * silently.
 */
#ifndef CP_CONFIG_H
#define CP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "policy.h"

#define CP_PATH_MAX	256
#define CP_URL_MAX	512
#define CP_PIN_MAX	(8 * 52)		/* up to 8 "sha256//" + 44 base64 + ";" */

enum cp_mode {
	CP_MODE_POLL,
	CP_MODE_PUSH,
};

enum cp_log_level {
	CP_LOG_ERROR,
	CP_LOG_WARNING,
	CP_LOG_INFO,
	CP_LOG_DEBUG,
};

struct cp_config {
	char server[CP_URL_MAX];		/* https://host[:port] */
	char ca_file[CP_PATH_MAX];		/* "" = the system's CAs */
	char pinned_public_key[CP_PIN_MAX];	/* "sha256//B64[;sha256//B64...]" or "" */
	char state_dir[CP_PATH_MAX];
	char control_socket[CP_PATH_MAX];
	char control_group[64];			/* the socket's group: may read; "" = the daemon's */
	char admin_group[64];			/* may change state too; "" = root only */
	char printer_name[64];
	uint32_t engine;			/* N of /dev/prengineN */
	enum cp_mode mode;
	enum cp_policy policy;
	uint32_t poll_interval_ms;
	uint32_t poll_jitter_pct;		/* +- percent of the interval */
	uint32_t request_timeout_ms;
	uint32_t backoff_base_ms;
	uint32_t backoff_cap_ms;
	uint32_t confirm_count;
	uint32_t heartbeat_interval_ms;		/* push: until the server names one */
	uint32_t stream_timeout_ms;		/* push: a silent stream is dead after this */
	uint32_t stream_grace_ms;		/* push: wait for the server to close after a deletion */
	enum cp_log_level log_level;
	struct cp_pattern patterns[CP_PATTERNS_MAX];
	size_t n_patterns;
	/* Accepted but risky (a status-only pattern): "" or lines to log. */
	char warnings[512];
};

void cp_config_defaults(struct cp_config *c);
/*
 * Parse @json (@len bytes) over the defaults.  Returns 0, or -EINVAL with
 * a one-line reason naming the key in @err.  What is valid but risky is
 * described in c->warnings, one line each, for the caller to log.
 */
int cp_config_parse(const char *json, size_t len, struct cp_config *c, char *err, size_t errlen);
/* Read and parse the file at @path; -errno with @err set on failure. */
int cp_config_load(const char *path, struct cp_config *c, char *err, size_t errlen);
/*
 * Do the files the configuration names exist: ca_file readable, state_dir
 * a directory or creatable (its parent exists), control_socket's
 * directory there?  0, or -EINVAL with a reason naming the key.
 */
int cp_config_check_paths(const struct cp_config *c, char *err, size_t errlen);
/*
 * Why an answer with HTTP @status can never mean "deleted" (it has a
 * meaning of its own, or is transient by design), or NULL if it may.
 */
const char *cp_config_status_never_deleted(int status);

#endif
