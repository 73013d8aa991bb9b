/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cloudprintctl's command line: options anywhere (before or after the
 * command), one command and its argument, checked before anything is sent.
 */
#ifndef CP_CTLARGS_H
#define CP_CTLARGS_H

#include <stdbool.h>
#include <stddef.h>

enum cp_ctl_action {
	CP_CTL_RUN,		/* send line to the daemon */
	CP_CTL_HELP,
	CP_CTL_VERSION,
};

struct cp_ctl_args {
	enum cp_ctl_action action;
	const char *socket;	/* -s, or NULL */
	bool json;		/* status --json */
	char line[64];		/* the command line to send, without '\n' */
};

/*
 * Parse @argv.  Returns 0, or -EINVAL with a one-line reason in @err
 * ("unknown command 'x'", "'resolve' needs delete, suspend or keep", ...).
 */
int cp_ctl_parse_args(int argc, char *const *argv, struct cp_ctl_args *a, char *err,
		      size_t errlen);

#endif
