/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ledger: cloud jobs handed to the engine whose final status the cloud
 * has not acknowledged yet.  A job in the ledger is never printed again,
 * whatever the cloud lists, and its status is posted until the cloud takes
 * it.  It lives in the state directory (CP_LEDGER_FILE, replaced
 * atomically like the credentials) so that a restart remembers it: the
 * entry is written before the job is committed to the engine.
 */
#ifndef CP_LEDGER_H
#define CP_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_LEDGER_FILE	"printed.json"
#define CP_LEDGER_MAX	128

enum cp_ledger_state {
	CP_LEDGER_HANDED,		/* committed to the engine, no result yet */
	CP_LEDGER_PRINTED,		/* printed: status done, crc32 */
	CP_LEDGER_ENDED,		/* ended on the engine otherwise: status aborted */
};

struct cp_ledger_entry {
	char id[64];			/* the cloud's job id */
	uint64_t engine_job;		/* the driver's job id */
	uint64_t size;
	enum cp_ledger_state state;
	uint32_t crc32;
};

struct cp_ledger {
	struct cp_ledger_entry e[CP_LEDGER_MAX];	/* oldest first */
	size_t n;
};

/* 0; -ENOENT no file (an empty ledger); -EINVAL damaged (empty ledger). */
int cp_ledger_load(const char *dir, struct cp_ledger *l);
/* Write it out (crash points ledger-store-*); an empty ledger removes the file. */
int cp_ledger_store(const char *dir, const struct cp_ledger *l);
struct cp_ledger_entry *cp_ledger_find(struct cp_ledger *l, const char *id);
/*
 * Add (or reset) the entry of @id as handed.  A full ledger forgets its
 * oldest entry to make room; *@dropped says so.
 */
struct cp_ledger_entry *cp_ledger_add(struct cp_ledger *l, const char *id, uint64_t engine_job,
				      uint64_t size, bool *dropped);
/* True if @id was there. */
bool cp_ledger_remove(struct cp_ledger *l, const char *id);
const char *cp_ledger_state_name(enum cp_ledger_state s);

#endif
