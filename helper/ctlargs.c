// SPDX-License-Identifier: GPL-2.0
/* cloudprintctl's command line; see ctlargs.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctlargs.h"

struct cp_ctl_cmd {
	const char *name;
	const char *const *args;	/* NULL: takes no argument */
	const char *args_text;
};

static const char *const resolve_args[] = { "delete", "suspend", "keep", NULL };
static const char *const policy_args[] = { "delete", "suspend", "keep", "ask", NULL };

static const struct cp_ctl_cmd cmds[] = {
	{ "status", NULL, NULL },
	{ "register", NULL, NULL },
	{ "unregister", NULL, NULL },
	{ "resume", NULL, NULL },
	{ "resolve", resolve_args, "delete, suspend or keep" },
	{ "policy", policy_args, "delete, suspend, keep or ask" },
};

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cp_ctl_parse_args(int argc, char *const *argv, struct cp_ctl_args *a, char *err,
		      size_t errlen)
{
	const char *words[2];
	const struct cp_ctl_cmd *cmd = NULL;
	int n = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			a->action = CP_CTL_HELP;
			return 0;
		}
		if (!strcmp(s, "--version")) {
			a->action = CP_CTL_VERSION;
			return 0;
		}
		if (!strcmp(s, "-s") || !strcmp(s, "--socket")) {
			if (++i == argc)
				return bad(err, errlen, "option '%s' needs a socket path", s);
			a->socket = argv[i];
		} else if (!strncmp(s, "--socket=", 9)) {
			a->socket = s + 9;
		} else if (!strcmp(s, "--json")) {
			a->json = true;
		} else if (s[0] == '-' && s[1]) {
			return bad(err, errlen, "unknown option '%s'", s);
		} else if (n == 2) {
			return bad(err, errlen, "too many arguments: '%s'", s);
		} else {
			words[n++] = s;
		}
	}
	if (!n)
		return bad(err, errlen, "no command given");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && !cmd; i++)
		if (!strcmp(words[0], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd)
		return bad(err, errlen, "unknown command '%s'", words[0]);
	if (!cmd->args && n > 1)
		return bad(err, errlen, "'%s' takes no argument, not '%s'", cmd->name, words[1]);
	if (cmd->args) {
		bool known = false;

		if (n != 2)
			return bad(err, errlen, "'%s' needs one of %s", cmd->name, cmd->args_text);
		for (size_t i = 0; cmd->args[i] && !known; i++)
			known = !strcmp(words[1], cmd->args[i]);
		if (!known)
			return bad(err, errlen, "'%s' needs one of %s", cmd->name, cmd->args_text);
	}
	if (a->json && strcmp(cmd->name, "status"))
		return bad(err, errlen, "--json goes with status only, not '%s'", cmd->name);
	snprintf(a->line, sizeof(a->line), "%s%s%s", cmd->name, n > 1 ? " " : "",
		 n > 1 ? words[1] : "");
	a->action = CP_CTL_RUN;
	return 0;
}
