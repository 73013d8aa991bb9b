// SPDX-License-Identifier: GPL-2.0
/*
 * cloudprintctl: talk to cloudprintd over its control socket.
 * Exit status: 0 done, 1 the daemon refused, 2 usage, 3 the daemon is not
 * running, 4 permission denied (by the socket's mode or by the daemon).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctlargs.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cloudprintctl [-s SOCKET] COMMAND [ARGUMENT] [--json]\n"
		"       cloudprintctl --help | --version\n"
		"  status [--json]               state, server, last contact, errors, counters,\n"
		"                                the event stream in push mode\n"
		"  register                      register; prints the claim code and URL\n"
		"  unregister                    tell the cloud, then forget the credentials\n"
		"  resolve delete|suspend|keep   answer a detected deletion (policy ask)\n"
		"  resume                        leave suspended and talk to the cloud again\n"
		"  policy delete|suspend|keep|ask  change the deletion policy now\n"
		"SOCKET defaults to /run/cloudprintd.sock ($CLOUDPRINTD_SOCKET).\n");
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A Unix time as local date and time, or @none for 0. */
static void fmt_time(char *buf, size_t len, double t, const char *none)
{
	time_t tt = (time_t)t;

	if (!tt)
		snprintf(buf, len, "%s", none);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime(&tt));
}

static void print_stream(const cJSON *st)
{
	char since[64], last[64];

	fmt_time(since, sizeof(since), num(st, "connected_since"), "-");
	fmt_time(last, sizeof(last), num(st, "last_event"), "never");
	printf("stream:       %s, connected since %s, last event %s\n", str(st, "state"), since,
	       last);
	printf("              %.0f streams, %.0f events, %.0f reconnects, %.0f heartbeats; "
	       "last end: %s\n", num(st, "streams"), num(st, "events"), num(st, "reconnects"),
	       num(st, "heartbeats"), str(st, "last_end")[0] ? str(st, "last_end") : "-");
}

static void print_status(const cJSON *o)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stream");
	char when[64];

	fmt_time(when, sizeof(when), num(o, "last_contact"), "never");
	printf("state:        %s\n", str(o, "state"));
	printf("engine:       %s%s\n", str(o, "engine"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "engine_present")) ? "" :
	       " (not there: waiting for it)");
	printf("printer id:   %s\n", str(o, "printer_id")[0] ? str(o, "printer_id") : "-");
	printf("mode:         %s, policy %s\n", str(o, "mode"), str(o, "policy"));
	printf("server:       %s\n", str(o, "server"));
	printf("last contact: %s\n", when);
	printf("last error:   %s\n", str(o, "last_error")[0] ? str(o, "last_error") : "-");
	printf("detection:    %s\n", str(o, "detection")[0] ? str(o, "detection") : "-");
	printf("counters:     %.0f polls, %.0f requests, %.0f detections, %.0f jobs printed, %.0f failed\n",
	       num(o, "polls"), num(o, "requests"), num(o, "detections"), num(o, "jobs_printed"),
	       num(o, "jobs_failed"));
	if (cJSON_IsObject(st))
		print_stream(st);
	if (str(o, "claim_code")[0])
		printf("claim:        code %s at %s\n", str(o, "claim_code"), str(o, "claim_url"));
}

int main(int argc, char **argv)
{
	const char *path = getenv("CLOUDPRINTD_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[512] = "", reply[8192], err[160];
	struct cp_ctl_args args;
	bool json;
	const cJSON *ok;
	cJSON *o;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if (cp_ctl_parse_args(argc, argv, &args, err, sizeof(err))) {
		fprintf(stderr, "cloudprintctl: %s (cloudprintctl --help lists the commands)\n",
			err);
		return 2;
	}
	if (args.action == CP_CTL_HELP) {
		usage(stdout);
		return 0;
	}
	if (args.action == CP_CTL_VERSION) {
		printf("cloudprintctl %s\n", CP_VERSION);
		return 0;
	}
	if (args.socket)
		path = args.socket;
	if (!path)
		path = "/run/cloudprintd.sock";
	json = args.json;
	snprintf(line, sizeof(line), "%s", args.line);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "cloudprintctl: socket path too long\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "cloudprintctl: permission denied: %s (root or the "
				"socket's group only)\n", path);
			return 4;
		}
		fprintf(stderr, "cloudprintctl: cloudprintd is not running (%s: %s)\n", path,
			strerror(errno));
		return 3;
	}
	strcat(line, "\n");
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "cloudprintctl: write: %s\n", strerror(errno));
		return 3;
	}
	while (got < sizeof(reply) - 1 && (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += n;
	close(fd);
	reply[got] = '\0';
	o = cJSON_Parse(reply);
	if (!o) {
		fprintf(stderr, "cloudprintctl: no answer from cloudprintd\n");
		return 3;
	}
	ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
	rc = cJSON_IsTrue(ok) ? 0 : 1;
	if (rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "denied"))) {
		fprintf(stderr, "cloudprintctl: permission denied: '%.*s' needs root or the "
			"daemon's admin_group\n", (int)strcspn(line, "\n"), line);
		rc = 4;
	} else if (rc) {
		fprintf(stderr, "cloudprintctl: %s\n", str(o, "error"));
	} else if (json) {
		printf("%s", reply);
	} else if (!strcmp(line, "status\n")) {
		print_status(o);
	} else if (!strcmp(line, "register\n")) {
		printf("printer id: %s\nclaim code: %s\nclaim at:   %s\n", str(o, "printer_id"),
		       str(o, "claim_code"), str(o, "claim_url"));
	}
	cJSON_Delete(o);
	return rc;
}
