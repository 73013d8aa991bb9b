/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cloud protocol's answers (docs/protocol.md), parsed and checked:
 * every field of the expected type, every string within its buffer, every
 * number in range.  Nothing here does I/O, so it is unit-tested directly.
 * Each parser returns 0 or -EINVAL for an answer of the wrong shape.
 */
#ifndef CP_CLOUD_H
#define CP_CLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* POST /v1/printers */
struct cp_cloud_reg {
	char printer_id[128];
	char token[512];		/* registration_token */
	char claim_code[64];
	char claim_url[256];
};

int cp_cloud_parse_register(const char *body, size_t len, struct cp_cloud_reg *out);

/*
 * GET /v1/printers/{id}/registration: 0 pending, 1 claimed (@secret and
 * @token filled), -EINVAL otherwise.
 */
int cp_cloud_parse_claim(const char *body, size_t len, char *secret, size_t secret_size,
			 char *token, size_t token_size);

/* POST /v1/printers/{id}/token */
int cp_cloud_parse_token(const char *body, size_t len, char *token, size_t token_size);

/* GET /v1/printers/{id}/jobs: one entry of the list. */
struct cp_cloud_job {
	char id[64];
	char name[64];			/* truncated if longer; "" if absent */
	uint64_t size;
	char sha256[65];		/* 64 hex digits */
	char data_url[1024];
	const char *refused;		/* non-NULL: a reason to fail the job at once */
};

#define CP_CLOUD_JOBS_MAX	32	/* entries taken per answer; the rest wait */

/* A poll_interval the cloud may advise, in seconds (docs/protocol.md, 5.1). */
#define CP_CLOUD_POLL_ADVICE_MIN_S	1
#define CP_CLOUD_POLL_ADVICE_MAX_S	86400
/* What *advised_ms holds when the answer's poll_interval is not usable. */
#define CP_CLOUD_POLL_ADVICE_BAD	UINT32_MAX

/*
 * Fill @jobs with up to @max entries; entries of the wrong shape (no usable
 * id) are skipped and counted in @skipped.  A job bigger than @max_size or
 * with a size that is not a whole number gets ->refused.  @advised_ms (may
 * be NULL) gets the answer's poll_interval in milliseconds, 0 if it has
 * none, or CP_CLOUD_POLL_ADVICE_BAD if it is not a number of seconds within
 * the limits above.
 */
int cp_cloud_parse_jobs(const char *body, size_t len, uint64_t max_size,
			struct cp_cloud_job *jobs, size_t max, size_t *n, size_t *skipped,
			uint32_t *advised_ms);

/*
 * A push-mode `job` event's data: one job object, as in the jobs list.
 * -EINVAL if it is not an object with a usable id.
 */
int cp_cloud_parse_job(const char *data, size_t len, uint64_t max_size, struct cp_cloud_job *job);

/*
 * POST /v1/printers/{id}/heartbeat: the seconds until the next heartbeat,
 * a whole number within [1, 86400].
 */
int cp_cloud_parse_heartbeat(const char *body, size_t len, uint32_t *next_s);

#endif
