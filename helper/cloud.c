// SPDX-License-Identifier: GPL-2.0
/* Parsing of the cloud's answers; see cloud.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cloud.h"

/* A non-empty string that fits in @size bytes, copied into @out. */
static int get_string(const cJSON *o, const char *key, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= size)
		return -EINVAL;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static cJSON *parse_object(const char *body, size_t len)
{
	cJSON *root;

	if (!body || !len)
		return NULL;
	root = cJSON_ParseWithLength(body, len);
	if (root && !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int cp_cloud_parse_register(const char *body, size_t len, struct cp_cloud_reg *out)
{
	cJSON *root = parse_object(body, len);
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (root &&
	    !get_string(root, "printer_id", out->printer_id, sizeof(out->printer_id)) &&
	    !get_string(root, "registration_token", out->token, sizeof(out->token)) &&
	    !get_string(root, "claim_code", out->claim_code, sizeof(out->claim_code)) &&
	    !get_string(root, "claim_url", out->claim_url, sizeof(out->claim_url)))
		r = 0;
	cJSON_Delete(root);
	return r;
}

int cp_cloud_parse_claim(const char *body, size_t len, char *secret, size_t secret_size,
			 char *token, size_t token_size)
{
	cJSON *root = parse_object(body, len);
	const cJSON *st;
	int r = -EINVAL;

	st = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(st))
		goto out;
	if (!strcmp(st->valuestring, "pending"))
		r = 0;
	else if (!strcmp(st->valuestring, "claimed") &&
		 !get_string(root, "printer_secret", secret, secret_size) &&
		 !get_string(root, "access_token", token, token_size))
		r = 1;
out:
	cJSON_Delete(root);
	return r;
}

int cp_cloud_parse_token(const char *body, size_t len, char *token, size_t token_size)
{
	cJSON *root = parse_object(body, len);
	int r = root ? get_string(root, "access_token", token, token_size) : -EINVAL;

	cJSON_Delete(root);
	return r;
}

static bool is_sha256(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == 64;
}

static int parse_job(const cJSON *o, uint64_t max_size, struct cp_cloud_job *j)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
	double v;

	memset(j, 0, sizeof(*j));
	if (!cJSON_IsObject(o) || get_string(o, "id", j->id, sizeof(j->id)))
		return -EINVAL;
	if (cJSON_IsString(name))
		snprintf(j->name, sizeof(j->name), "%s", name->valuestring);
	if (get_string(o, "sha256", j->sha256, sizeof(j->sha256)) || !is_sha256(j->sha256)) {
		j->refused = "bad sha256";
		return 0;
	}
	if (get_string(o, "data_url", j->data_url, sizeof(j->data_url))) {
		j->refused = "bad data_url";
		return 0;
	}
	if (!cJSON_IsNumber(size)) {
		j->refused = "bad size";
		return 0;
	}
	v = size->valuedouble;
	if (!isfinite(v) || v < 0 || v != floor(v)) {
		j->refused = "bad size";
		return 0;
	}
	if (v > (double)max_size) {
		j->refused = "size refused by the printer";
		return 0;
	}
	j->size = (uint64_t)v;
	return 0;
}

static uint32_t parse_poll_advice(const cJSON *root)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "poll_interval");

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble < CP_CLOUD_POLL_ADVICE_MIN_S ||
	    v->valuedouble > CP_CLOUD_POLL_ADVICE_MAX_S)
		return CP_CLOUD_POLL_ADVICE_BAD;
	return (uint32_t)(v->valuedouble * 1000);
}

int cp_cloud_parse_jobs(const char *body, size_t len, uint64_t max_size,
			struct cp_cloud_job *jobs, size_t max, size_t *n, size_t *skipped,
			uint32_t *advised_ms)
{
	cJSON *root = parse_object(body, len);
	const cJSON *list, *o;

	*n = 0;
	*skipped = 0;
	if (advised_ms)
		*advised_ms = 0;
	list = cJSON_GetObjectItemCaseSensitive(root, "jobs");
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	if (advised_ms)
		*advised_ms = parse_poll_advice(root);
	cJSON_ArrayForEach(o, list) {
		if (*n == max)
			break;
		if (parse_job(o, max_size, &jobs[*n]))
			(*skipped)++;
		else
			(*n)++;
	}
	cJSON_Delete(root);
	return 0;
}

int cp_cloud_parse_job(const char *data, size_t len, uint64_t max_size, struct cp_cloud_job *job)
{
	cJSON *root = parse_object(data, len);
	int r;

	if (!root) {
		memset(job, 0, sizeof(*job));
		return -EINVAL;
	}
	r = parse_job(root, max_size, job);
	cJSON_Delete(root);
	return r;
}

int cp_cloud_parse_heartbeat(const char *body, size_t len, uint32_t *next_s)
{
	cJSON *root = parse_object(body, len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "next_heartbeat");
	int r = -EINVAL;

	if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 1 &&
	    v->valuedouble <= 86400 && v->valuedouble == floor(v->valuedouble)) {
		*next_s = (uint32_t)v->valuedouble;
		r = 0;
	}
	cJSON_Delete(root);
	return r;
}
