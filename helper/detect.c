// SPDX-License-Identifier: GPL-2.0
/* Classification of the cloud's answers; see detect.h. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "detect.h"

void cp_pattern_default(struct cp_pattern *p)
{
	memset(p, 0, sizeof(*p));
	p->status = 404;
	snprintf(p->field, sizeof(p->field), "error.code");
	snprintf(p->value, sizeof(p->value), "printer_deleted");
}

/* The string at dotted @path in @root, or NULL. */
static const char *json_path_string(const cJSON *root, const char *path)
{
	char seg[CP_FIELD_MAX];
	const cJSON *node = root;
	const char *p = path;

	while (*p) {
		size_t n = strcspn(p, ".");

		if (!n || n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (!cJSON_IsObject(node))
			return NULL;
		node = cJSON_GetObjectItemCaseSensitive(node, seg);
		if (!node)
			return NULL;
		p += n;
		if (*p == '.')
			p++;
	}
	return cJSON_IsString(node) ? node->valuestring : NULL;
}

/* Parse @a's body as a JSON object, or NULL. */
static cJSON *answer_json(const struct cp_answer *a)
{
	cJSON *root;

	if (!a->body || !a->body_len)
		return NULL;
	root = cJSON_ParseWithLength(a->body, a->body_len);
	if (root && !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static bool pattern_matches_json(const struct cp_pattern *p, const cJSON *root)
{
	const char *v;

	if (!p->field[0])
		return true;
	if (!root)
		return false;
	v = json_path_string(root, p->field);
	return v && !strcmp(v, p->value);
}

bool cp_pattern_matches(const struct cp_pattern *p, const struct cp_answer *a)
{
	cJSON *root;
	bool m;

	if (!a->transport_ok || a->status != p->status)
		return false;
	root = answer_json(a);
	m = pattern_matches_json(p, root);
	cJSON_Delete(root);
	return m;
}

enum cp_verdict cp_classify(const struct cp_pattern *patterns, size_t n,
			    const struct cp_answer *a)
{
	enum cp_verdict v = CP_VERDICT_TRANSIENT;
	const char *code;
	cJSON *root;

	if (!a->transport_ok)
		return CP_VERDICT_TRANSIENT;
	root = answer_json(a);
	for (size_t i = 0; i < n; i++) {
		if (a->status == patterns[i].status && pattern_matches_json(&patterns[i], root)) {
			v = CP_VERDICT_DELETED;
			goto out;
		}
	}
	if (a->status >= 200 && a->status < 300) {
		v = CP_VERDICT_OK;
	} else if (a->status == 429) {
		v = CP_VERDICT_RATE_LIMITED;
	} else if (a->status == 401) {
		code = root ? json_path_string(root, "error.code") : NULL;
		/* Expired, or unknown (revoked, or issued before a restart of the
		 * cloud): either way a refresh with the secret is the answer. */
		if (code && (!strcmp(code, "token_expired") || !strcmp(code, "invalid_token")))
			v = CP_VERDICT_TOKEN_EXPIRED;
	}
out:
	cJSON_Delete(root);
	return v;
}

const char *cp_verdict_name(enum cp_verdict v)
{
	switch (v) {
	case CP_VERDICT_OK:
		return "ok";
	case CP_VERDICT_DELETED:
		return "deleted";
	case CP_VERDICT_TOKEN_EXPIRED:
		return "token-expired";
	case CP_VERDICT_RATE_LIMITED:
		return "rate-limited";
	case CP_VERDICT_TRANSIENT:
		return "transient";
	}
	return "?";
}

bool cp_confirm_feed(struct cp_confirm *c, enum cp_verdict v)
{
	switch (v) {
	case CP_VERDICT_DELETED:
		c->seen++;
		return c->seen >= (c->need ? c->need : 1);
	case CP_VERDICT_OK:
		c->seen = 0;
		return false;
	case CP_VERDICT_TOKEN_EXPIRED:
	case CP_VERDICT_RATE_LIMITED:
	case CP_VERDICT_TRANSIENT:
		return false;
	}
	return false;
}
