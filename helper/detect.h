/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Classification of the cloud's answers, and the user's deletion patterns.
 *
 * A pattern says "this answer means the registration was deleted on the
 * server": an HTTP status and, optionally, a JSON field (dotted path into
 * the body, e.g. "error.code") that must hold a given string.  Only an
 * answer that arrived and matches a pattern counts; a failure to get an
 * answer, a 5xx, a 429, a token expiry or a body that is not JSON never do.
 */
#ifndef CP_DETECT_H
#define CP_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#define CP_PATTERNS_MAX		16
#define CP_FIELD_MAX		64
#define CP_VALUE_MAX		128

struct cp_pattern {
	int status;			/* 100..599 */
	char field[CP_FIELD_MAX];	/* "" = status alone */
	char value[CP_VALUE_MAX];
};

enum cp_verdict {
	CP_VERDICT_OK,			/* 2xx */
	CP_VERDICT_DELETED,		/* matched a deletion pattern */
	CP_VERDICT_TOKEN_EXPIRED,	/* 401 token_expired or invalid_token: refresh */
	CP_VERDICT_RATE_LIMITED,	/* 429: wait (Retry-After) */
	CP_VERDICT_TRANSIENT,		/* no answer, 5xx, anything else */
};

/* What came back for one request. */
struct cp_answer {
	bool transport_ok;		/* false: network, DNS, TLS, timeout */
	long status;			/* HTTP status when transport_ok */
	const char *body;		/* may be NULL */
	size_t body_len;
};

/* The default pattern of the reference protocol: 404 + error.code = printer_deleted. */
void cp_pattern_default(struct cp_pattern *p);
bool cp_pattern_matches(const struct cp_pattern *p, const struct cp_answer *a);
enum cp_verdict cp_classify(const struct cp_pattern *patterns, size_t n,
			    const struct cp_answer *a);
const char *cp_verdict_name(enum cp_verdict v);

/*
 * Optional confirmation: a deletion is acted on after @need matching
 * answers; a successful answer in between starts the count again, answers
 * that say nothing (transient) leave it.
 */
struct cp_confirm {
	unsigned int need;
	unsigned int seen;
};

/* Feed one verdict; true when the deletion is confirmed. */
bool cp_confirm_feed(struct cp_confirm *c, enum cp_verdict v);

#endif
