/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The printer's cloud credentials: one JSON file, mode 0600, in the state
 * directory, replaced atomically (temporary file, fsync, rename, fsync of
 * the directory) so that a crash leaves the old file or the new one.
 */
#ifndef CP_CREDS_H
#define CP_CREDS_H

#include "policy.h"

#define CP_CREDS_FILE	"credentials.json"

struct cp_creds {
	char printer_id[128];
	char secret[256];
	char access_token[1024];
	enum cp_creds_mark mark;	/* registered, deleted (ask) or suspended */
};

/* 0, -ENOENT when there is no file, -EINVAL when it is damaged. */
int cp_creds_load(const char *dir, struct cp_creds *c);
int cp_creds_store(const char *dir, const struct cp_creds *c);
/* Remove the file durably; no file is not an error. */
int cp_creds_delete(const char *dir);

#endif
