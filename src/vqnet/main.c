/* SPDX-License-Identifier: MIT */
/* vqnet - command dispatch, as wireguard-tools' wg.c: every command file
 * owns its arguments; this one only finds the command. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *summary;
	const char *help;        /* what `vqnet help NAME` adds */
} commands[] = {
	{ "up", cmd_up, "[--seed N] FILE", "bring a lab up and print its interfaces",
	  "Checks FILE (mistakes are reported as file:line, exit 2), creates each\n"
	  "guest's namespaces and NIC, the links between them and a supervisor\n"
	  "that keeps the lab up until 'vqnet down'.  Returns once every vmm is\n"
	  "ready.  Ctrl-C (or SIGTERM, SIGHUP) while it comes up rolls it back.\n"
	  "--seed N: the seed of the lab's impairments (else [lab] seed, else one\n"
	  "of chance, which status shows): the same seed and traffic give the same\n"
	  "drops, duplicates and delays.\n" },
	{ "down", cmd_down, "LAB", "take a lab down, leaving nothing behind",
	  "Stops the lab's processes and removes its namespaces and files; the\n"
	  "supervisor's log stays in /run/vqnet/log.  Also stops a lab that is\n"
	  "still coming up, and cleans up after a supervisor that died.\n" },
	{ "status", cmd_status, "[--json] [LAB]", "show guests, interfaces, links and counters",
	  "Without LAB, every lab under /run/vqnet, whatever its state (up,\n"
	  "starting, stopping, not answering, dead).  --json: one object per lab\n"
	  "(an array without LAB); the schema is docs/status.md.  With LAB, exit\n"
	  "status 3 when it does not exist, 1 when it is not up and answering.\n" },
	{ "stats", cmd_stats, "LAB [--watch [SECONDS]] [--json]",
	  "frames, bits and drops per second, per interface and link end",
	  "Takes the lab's counters twice, an interval apart (1 s, or SECONDS),\n"
	  "and prints what moved per second in between, divided by the time that\n"
	  "really passed: per interface (from and to its guest, drops by cause)\n"
	  "and per link end (sent, received, drops by cause, impairments' drops).\n"
	  "A link end counts each frame's 12-byte virtio-net header; a\n"
	  "segmentation-offload frame counts once, however many segments.  Where\n"
	  "a vmm was replaced (its counters start over) the interval's rates are\n"
	  "unknown ('?', restarted), never negative.\n"
	  "--watch [SECONDS]: again every SECONDS (0.1 to 3600, default 1), redrawn\n"
	  "in place on a terminal, one table after another otherwise; Ctrl-C,\n"
	  "SIGTERM, SIGHUP or a closed output pipe end it, exit 0 (without\n"
	  "--watch a signal interrupts it: 128+N).\n"
	  "--json: one object a line per interval; the schema is docs/status.md.\n"
	  "Exit status 3 when the lab is not up, or goes down meanwhile; 1 when\n"
	  "its supervisor does not answer.\n" },
	{ "list", cmd_list, "[--json]", "list the labs and their state", NULL },
	{ "events", cmd_events, "LAB [--json]", "what happens to a lab, as it happens",
	  "The lab's recent events first (its supervisor keeps the last 256),\n"
	  "then each new one: a vmm that died and was restarted or backs off, a\n"
	  "link that stalled, went full, broke, resets or recovered, a port that\n"
	  "changed, a guest or VM agent ready, a fault applied (impair, link,\n"
	  "partition, heal, stop, start), a scenario of 'vqnet run' started or\n"
	  "ended, the lab going down.  A line each: local time, the node or link\n"
	  "(else the lab), what happened.  --json: the events as JSON, one object\n"
	  "a line (docs/status.md).  A reader too slow for them is told how many\n"
	  "it lost.  Ends when the lab goes down (exit 0); Ctrl-C, SIGTERM, SIGHUP\n"
	  "or a closed output pipe end it (128 + the signal); exit 1 if the\n"
	  "supervisor dies, 3 if the lab is not up.  'vqnet status' shows the\n"
	  "last 5.\n" },
	{ "exec", cmd_exec, "LAB GUEST [--] CMD [ARG...]", "run a command inside a guest",
	  "Runs CMD in GUEST's network, PID and mount namespaces (its own /proc\n"
	  "and /sys), passing stdin, stdout, stderr and the exit status through.\n"
	  "Everything after GUEST is the command's, options included.\n" },
	{ "run", cmd_run, "[--keep] [--seed N] FILE", "bring a lab up, run its scenarios, take it down",
	  "Runs each [scenario] first with every program in the first guest, then\n"
	  "across the guests; prints each program's output and a summary.\n"
	  "--keep leaves the lab up.  Ctrl-C, SIGTERM, SIGHUP or a closed output\n"
	  "pipe stop the programs and take the lab down.\n" },
	{ "impair", cmd_impair, "LAB A B [--topology T] [--from A] SPEC|clear",
	  "impair the link between A and B (both ways unless --from)",
	  "SPEC is delay 10ms, jitter 2ms [normal|uniform], loss 1% [burst 5],\n"
	  "duplicate, reorder, corrupt PCT, rate 100mbit [burst SIZE] [queue N],\n"
	  "mtu N (lib/impair/README.md); the keys given replace their settings,\n"
	  "'clear' starts from none.  Seeded: see 'vqnet help up'.\n" },
	{ "link", cmd_link, "LAB A B [--topology T] down|up", "cut the link between A and B, or restore it", NULL },
	{ "partition", cmd_partition, "LAB A B / C [/ D ...]", "cut every link between the groups",
	  "A switch or filter goes in the group of the guests it serves (A B sw / C);\n"
	  "each other group may hold one of its guests, which the cut takes off it.\n"
	  "Anything else is refused, since it would not be the partition asked for.\n" },
	{ "heal", cmd_heal, "LAB", "undo partitions, link downs and stops (impairments stay)", NULL },
	{ "stop", cmd_stop, "LAB GUEST", "cut a guest off from every link", NULL },
	{ "start", cmd_start, "LAB GUEST", "connect a stopped guest again", NULL },
	{ "capture", cmd_capture, "LAB [WHAT...] [-w FILE|-] [-c COUNT] [-s SNAPLEN] [FILTER...]",
	  "capture frames to pcapng",
	  "WHAT is a guest (its interfaces), GUEST.IFACE, a link A-B (seen from\n"
	  "A) or a filter node (its links, with the frames it dropped marked by\n"
	  "a comment naming the rule); none: every guest interface and filter.\n"
	  "FILTER is a BPF expression (pcap-filter(7)), applied in the datapath\n"
	  "before anything is copied; '--' ends the WHATs.  pcapng with an\n"
	  "interface per point, nanosecond timestamps, each frame's direction.\n"
	  "-w - writes to stdout (| tshark -r -); stdout may not be a terminal.\n"
	  "A slow reader loses frames, counted (stderr, the file), never the\n"
	  "datapath's.  Ends on Ctrl-C, -c COUNT frames, or the lab's end.\n" },
	{ "graph", cmd_graph, "FILE|LAB [-o OUT.svg|OUT.png|OUT.dot]", "draw a lab with graphviz",
	  "Guests (namespace or QEMU), their interfaces and topologies, filters\n"
	  "and links.  Of a LAB that is up, live: each link's state (dead,\n"
	  "stalled, down and impaired links each look their own way, cut ones\n"
	  "dashed grey with the reason), impairments and frames and bytes each\n"
	  "way, each vmm's state; a legend says what each look means.  A FILE is\n"
	  "checked first (file:line, exit 2) and drawn as written; it needs no\n"
	  "root.  An argument with a '/' or a '.' is a FILE (lab names have\n"
	  "neither).  Without -o, the DOT text on standard output; -o OUT: the\n"
	  "format its name ends in (.svg, .png, .dot or .gv), drawn by graphviz's\n"
	  "dot, written whole or not at all.\n" },
	{ "help", NULL, "[COMMAND]", "this text, or a command's", NULL },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *to)
{
	fprintf(to, "usage: %s COMMAND [ARGS]\n\n"
		"Private Ethernet networks between isolated guests, over shared-memory\n"
		"virtqueues, and the programs that run across them.\n\n", prog);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(to, "  %s %s\n      %s\n", commands[i].name, commands[i].usage,
			commands[i].summary);
	fprintf(to, "\n'%s help COMMAND' for more.  Labs live under /run/vqnet; guests are\n"
		"namespaces LAB.GUEST ('ip netns list').  Needs root.\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage or a mistake in a lab file,\n"
		"3 the lab is not up, 4 not root, 128+N interrupted by signal N.\n", prog);
}

void cmd_help(const char *name, bool to_stdout)
{
	const struct command *c = find(name);
	FILE *f = to_stdout ? stdout : stderr;
	if (!c)
		return;
	fprintf(f, "usage: %s %s %s\n  %s\n", prog, c->name, c->usage, c->summary);
	if (c->help)
		fprintf(f, "\n%s", c->help);
}

int cmd_usage(const char *name)
{
	const struct command *c = find(name);
	fprintf(stderr, "usage: %s %s %s\n", prog, name, c ? c->usage : "");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version")) {
		printf("vqnet 0.2\n");
		return 0;
	}
	if (!strcmp(name, "help")) {
		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		if (argc > 3 || !find(argv[2]) || !find(argv[2])->fn) {
			err_msg("no command \"%s\" (try '%s help')", argv[2], prog);
			return EXIT_USAGE;
		}
		cmd_help(argv[2], true);
		return 0;
	}
	/* internal: the supervisor re-executes itself under this name */
	if (!strcmp(name, "__supervise"))
		return cmd_supervise(argc - 1, argv + 1);
	const struct command *c = find(name);
	if (!c || !c->fn) {
		err_msg("unknown command \"%s\" (try '%s --help')", name, prog);
		return EXIT_USAGE;
	}
	/* every command but help works on namespaces and /run/vqnet (0700):
	 * say so plainly rather than fail on a permission later */
	bool help = argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
	/* (graph of a lab file reads only the file; graph.c asks for root
	 * itself when it draws a lab that is up) */
	if (!help && geteuid() != 0 && c->fn != cmd_graph) {
		err_msg("%s needs root: it works on network namespaces and /run/vqnet", name);
		return EXIT_NOT_ROOT;
	}
	return c->fn(argc - 1, argv + 1);
}
