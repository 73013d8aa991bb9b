/* SPDX-License-Identifier: GPL-2.0 */
/* Levelled logging to stderr (journald adds the rest) or to syslog. */
#ifndef CP_LOG_H
#define CP_LOG_H

#include "config.h"

void cp_log_set_level(enum cp_log_level level);
/* From now on, log to syslog (facility daemon) instead of stderr. */
void cp_log_open_syslog(const char *ident);
void cp_log(enum cp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cp_err(...)	cp_log(CP_LOG_ERROR, __VA_ARGS__)
#define cp_warn(...)	cp_log(CP_LOG_WARNING, __VA_ARGS__)
#define cp_info(...)	cp_log(CP_LOG_INFO, __VA_ARGS__)
#define cp_dbg(...)	cp_log(CP_LOG_DEBUG, __VA_ARGS__)

#endif
