// SPDX-License-Identifier: GPL-2.0
/* Jobs handed to the engine and not yet acknowledged; see ledger.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ledger.h"
#include "statefile.h"

#define CP_LEDGER_TEXT_MAX	(64 * 1024)

static const char *const state_names[] = {
	[CP_LEDGER_HANDED] = "handed",
	[CP_LEDGER_PRINTED] = "printed",
	[CP_LEDGER_ENDED] = "ended",
};

const char *cp_ledger_state_name(enum cp_ledger_state s)
{
	return s <= CP_LEDGER_ENDED ? state_names[s] : "?";
}

static int cp_ledger_parse_entry(const cJSON *o, struct cp_ledger_entry *e)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "job_id");
	const cJSON *ej = cJSON_GetObjectItemCaseSensitive(o, "engine_job");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
	const cJSON *crc = cJSON_GetObjectItemCaseSensitive(o, "crc32");
	int s;

	if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= sizeof(e->id) ||
	    !cJSON_IsNumber(ej) || ej->valuedouble < 0 || !cJSON_IsNumber(size) ||
	    size->valuedouble < 0 || !cJSON_IsString(st) || !cJSON_IsNumber(crc) ||
	    crc->valuedouble < 0 || crc->valuedouble > 4294967295.0)
		return -EINVAL;
	for (s = CP_LEDGER_HANDED; s <= CP_LEDGER_ENDED; s++)
		if (!strcmp(st->valuestring, state_names[s]))
			break;
	if (s > CP_LEDGER_ENDED)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	strcpy(e->id, id->valuestring);
	e->engine_job = (uint64_t)ej->valuedouble;
	e->size = (uint64_t)size->valuedouble;
	e->state = s;
	e->crc32 = (uint32_t)crc->valuedouble;
	return 0;
}

int cp_ledger_load(const char *dir, struct cp_ledger *l)
{
	const cJSON *o;
	cJSON *root;
	int r;

	memset(l, 0, sizeof(*l));
	r = cp_statefile_read_json(dir, CP_LEDGER_FILE, CP_LEDGER_TEXT_MAX, &root);
	if (r)
		return r;
	r = -EINVAL;
	if (!cJSON_IsArray(root))
		goto out;
	cJSON_ArrayForEach(o, root) {
		if (l->n == CP_LEDGER_MAX || cp_ledger_parse_entry(o, &l->e[l->n]))
			goto out;
		l->n++;
	}
	r = 0;
out:
	if (r)
		memset(l, 0, sizeof(*l));
	cJSON_Delete(root);
	return r;
}

int cp_ledger_store(const char *dir, const struct cp_ledger *l)
{
	cJSON *root;
	char *text;
	int r;

	if (!l->n)
		return cp_statefile_remove(dir, CP_LEDGER_FILE);
	root = cJSON_CreateArray();
	for (size_t i = 0; root && i < l->n; i++) {
		const struct cp_ledger_entry *e = &l->e[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "job_id", e->id);
		cJSON_AddNumberToObject(o, "engine_job", (double)e->engine_job);
		cJSON_AddNumberToObject(o, "size", (double)e->size);
		cJSON_AddStringToObject(o, "state", state_names[e->state]);
		cJSON_AddNumberToObject(o, "crc32", (double)e->crc32);
		cJSON_AddItemToArray(root, o);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return -ENOMEM;
	r = cp_statefile_replace(dir, CP_LEDGER_FILE, text, strlen(text), "ledger-store");
	free(text);
	return r;
}

struct cp_ledger_entry *cp_ledger_find(struct cp_ledger *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].id, id))
			return &l->e[i];
	return NULL;
}

struct cp_ledger_entry *cp_ledger_add(struct cp_ledger *l, const char *id, uint64_t engine_job,
				      uint64_t size, bool *dropped)
{
	struct cp_ledger_entry *e;

	*dropped = false;
	if (strlen(id) >= sizeof(e->id))
		return NULL;
	cp_ledger_remove(l, id);
	if (l->n == CP_LEDGER_MAX) {
		memmove(&l->e[0], &l->e[1], (l->n - 1) * sizeof(l->e[0]));
		l->n--;
		*dropped = true;
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	strcpy(e->id, id);
	e->engine_job = engine_job;
	e->size = size;
	e->state = CP_LEDGER_HANDED;
	return e;
}

bool cp_ledger_remove(struct cp_ledger *l, const char *id)
{
	struct cp_ledger_entry *e = cp_ledger_find(l, id);
	size_t i;

	if (!e)
		return false;
	i = e - l->e;
	memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof(l->e[0]));
	l->n--;
	return true;
}
