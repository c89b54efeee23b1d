/*
 * report.h - `imaptap report [LOG...] -o report.html`: one self-contained
 * HTML page (inline CSS, JS and SVG; no network request of any kind) from
 * imaptap's JSON-lines logs (schema v1), for a support engineer to attach to
 * a ticket: a filterable, sortable session list; per session a timeline of
 * client and server (commands as bars as long as their latency, IDLE spans,
 * untagged responses, errors) and the capabilities of both sides; latency
 * histograms per command; the capabilities seen across all sessions.
 *
 * The log is read once, in memory bounded by the limits below whatever its
 * size; the page says what a limit left out.  Everything taken from the log
 * is untrusted: it reaches the page only inside a JSON block whose "<", ">"
 * and "&" are escaped, and the page's script builds the DOM with textContent.
 */
#ifndef REPORT_H
#define REPORT_H

/* Sessions whose timeline is kept (--timelines); sessions with errors take
 * the place of finished sessions without. */
#define REPORT_TIMELINES_DEF 500
/* Timeline entries kept per session (--events); errors past it are still
 * kept, up to a quarter more. */
#define REPORT_EVENTS_DEF 1000
/* Sessions listed (--sessions); later ones count in the totals only. */
#define REPORT_SESSIONS_DEF 50000

/*
 * argv[0] is "report".  Options: -o/--output FILE (default "-": stdout),
 * --title TEXT, --timelines N, --events N, --sessions N, -h/--help; then
 * the log files (none or "-": stdin).  Returns the exit status: 0 written;
 * 1 an I/O error (a log that cannot be read, the output that cannot be
 * written); 2 a bad option, or input in which no line is an imaptap event.
 */
int report_main(int argc, char **argv);

#endif
