// SPDX-License-Identifier: GPL-2.0
/* Credentials file; see creds.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "creds.h"
#include "crashpoint.h"
#include "statefile.h"

static const char *const mark_names[] = {
	[CP_CREDS_NONE] = "none",
	[CP_CREDS_REGISTERED] = "registered",
	[CP_CREDS_DELETED] = "deleted",
	[CP_CREDS_SUSPENDED] = "suspended",
};

static int copy_field(const cJSON *root, const char *name, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return -EINVAL;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

int cp_creds_load(const char *dir, struct cp_creds *c)
{
	const cJSON *m;
	cJSON *root;
	int r;

	memset(c, 0, sizeof(*c));
	r = cp_statefile_read_json(dir, CP_CREDS_FILE, 4095, &root);
	if (r)
		return r;
	r = -EINVAL;
	if (copy_field(root, "printer_id", c->printer_id, sizeof(c->printer_id)) ||
	    copy_field(root, "printer_secret", c->secret, sizeof(c->secret)) ||
	    copy_field(root, "access_token", c->access_token, sizeof(c->access_token)))
		goto out;
	m = cJSON_GetObjectItemCaseSensitive(root, "state");
	if (!cJSON_IsString(m))
		goto out;
	for (int i = CP_CREDS_REGISTERED; i <= CP_CREDS_SUSPENDED; i++)
		if (!strcmp(m->valuestring, mark_names[i]))
			c->mark = i;
	if (c->mark != CP_CREDS_NONE)
		r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int cp_creds_store(const char *dir, const struct cp_creds *c)
{
	cJSON *root = cJSON_CreateObject();
	char *text;
	int r;

	cJSON_AddStringToObject(root, "printer_id", c->printer_id);
	cJSON_AddStringToObject(root, "printer_secret", c->secret);
	cJSON_AddStringToObject(root, "access_token", c->access_token);
	cJSON_AddStringToObject(root, "state", mark_names[c->mark]);
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	r = cp_statefile_replace(dir, CP_CREDS_FILE, text, strlen(text), "creds-store");
	free(text);
	return r;
}

int cp_creds_delete(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/" CP_CREDS_FILE, dir);
	if (cp_crashpoint("creds-delete-start"))
		return -EINTR;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (cp_crashpoint("creds-delete-unlinked"))
		return -EINTR;
	return cp_statefile_fsync_dir(dir);
}
