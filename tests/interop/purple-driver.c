/*
 * purple-driver: a headless libpurple UI that runs pidgin-sipe (the libpurple plugin "prpl-sipe") against the
 * sfbkit lab pool, for the interop test (tests/interop/test_sipe.py, docs/interop.md).
 *
 * It reads commands on standard input and prints what libpurple reports on standard output, one line each:
 *
 *   commands:  status <status-id> [message...]      set our own status and note (SIPE ids: available, busy, ...)
 *              add-buddy <name> <group>             add a contact in a group (SIPE sends addGroup/setContact)
 *              roster                               print every buddy (BUDDY lines) and "ROSTER-END"
 *              quit                                 disconnect and exit
 *   output:    READY | SIGNED-ON | ERROR <reason> <text> | PROMPT <title>: <text>
 *              GROUP <name> | BUDDY <name>\t<group> | STATUS <name>\t<status-id>\t<message> | OFFLINE <name>
 *
 * SIPE's own debug log (libpurple's debug output, verbose, never "unsafe": no message bodies, no secrets) goes to the
 * --debug-log file: the test keeps it as the evidence.
 *
 * Three things make SIPE usable here without touching the machine:
 *  - Names of the lab's domain resolve to 127.0.0.1 through libpurple's DNS UI op (the lab's names are in no DNS).
 *  - The lab CA is added to libpurple's "x509"/"ca" pool at run time; verification stays on (ssl-nss), and a
 *    certificate libpurple would ask about is refused and reported as PROMPT, so the test fails on it.
 *  - Debian 12's libxml2 (2.9.14+dfsg-1.3~deb12u6) switches to SAX2 whenever a handler's `initialized` is
 *    XML_SAX2_MAGIC, even when it only has SAX1 element callbacks; SIPE's handler (sipe-xml.c) is such a handler, so
 *    SIPE would read no element of any XML document. The wrapper of xmlSAXUserParseMemory below hands libxml2 a
 *    copy marked as SAX1 (`initialized = 1`, what libxml2's own parser.h says a SAX1 user sets since 2.13). It is
 *    exported (-rdynamic) so it interposes for libsipe.so, and touches nothing else: SIPE's side only.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libpurple/purple.h>

#define UI_ID "sfbkit-interop"

/* ---- libxml2: SIPE's SAX1 handler, read as SAX1 ---------------------------------------------------------------- */

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data, const char *buffer, int size)
{
	static int (*real)(xmlSAXHandlerPtr, void *, const char *, int) = NULL;
	if (real == NULL)
		real = (int (*)(xmlSAXHandlerPtr, void *, const char *, int))dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
	if (real == NULL)
		return -1;
	if (sax != NULL && sax->initialized == XML_SAX2_MAGIC && sax->startElementNs == NULL &&
	    sax->endElementNs == NULL && (sax->startElement != NULL || sax->endElement != NULL)) {
		xmlSAXHandler sax1 = *sax;
		sax1.initialized = 1;
		return real(&sax1, user_data, buffer, size);
	}
	return real(sax, user_data, buffer, size);
}

/* ---- output ------------------------------------------------------------------------------------------------------ */

static FILE *debug_log = NULL;
static GMainLoop *loop = NULL;
static PurpleAccount *account = NULL;
static const char *lab_domain = NULL;

static void say(const char *format, ...) G_GNUC_PRINTF(1, 2);
static void say(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vprintf(format, args);
	va_end(args);
	putchar('\n');
	fflush(stdout);
}

/* Tabs and newlines would break the line protocol. */
static gchar *one_line(const char *text)
{
	gchar *copy = g_strdup(text ? text : "");
	for (gchar *p = copy; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return copy;
}

static void debug_print(PurpleDebugLevel level, const char *category, const char *text)
{
	static const char *names[] = {"all", "misc", "info", "warning", "error", "fatal"};
	if (debug_log == NULL)
		return;
	gint64 now = g_get_real_time();
	fprintf(debug_log, "%" G_GINT64_FORMAT ".%06d %s %s: %s", now / 1000000, (int)(now % 1000000),
	        level <= PURPLE_DEBUG_FATAL ? names[level] : "?", category ? category : "-", text);
	if (text[0] == '\0' || text[strlen(text) - 1] != '\n')
		fputc('\n', debug_log);
	fflush(debug_log);
}

static gboolean debug_enabled(PurpleDebugLevel level, const char *category)
{
	return debug_log != NULL;
}

static PurpleDebugUiOps debug_ops = {debug_print, debug_enabled, NULL, NULL, NULL, NULL};

static void debug_ui_init(void)
{
	purple_debug_set_ui_ops(&debug_ops);
}

/* ---- the event loop: GLib -------------------------------------------------------------------------------------- */

typedef struct {
	PurpleInputFunction function;
	guint result;
	gpointer data;
} Watch;

static gboolean io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	Watch *w = data;
	int purple_condition = 0;
	if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		purple_condition |= PURPLE_INPUT_READ;
	if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
		purple_condition |= PURPLE_INPUT_WRITE;
	w->function(w->data, g_io_channel_unix_get_fd(source), purple_condition);
	return TRUE;
}

static guint input_add(gint fd, PurpleInputCondition condition, PurpleInputFunction function, gpointer data)
{
	Watch *w = g_new0(Watch, 1);
	int cond = 0;
	if (condition & PURPLE_INPUT_READ)
		cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
	w->function = function;
	w->data = data;
	GIOChannel *channel = g_io_channel_unix_new(fd);
	w->result = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, cond, io_invoke, w, g_free);
	g_io_channel_unref(channel);
	return w->result;
}

static PurpleEventLoopUiOps loop_ops = {
	g_timeout_add, g_source_remove, input_add, g_source_remove, NULL, g_timeout_add_seconds, NULL, NULL, NULL,
};

/* ---- DNS: the lab's names are 127.0.0.1 ------------------------------------------------------------------------ */

typedef struct {
	PurpleDnsQueryData *query;
	PurpleDnsQueryResolvedCallback resolved;
} Answer;

static GHashTable *answers = NULL; /* query -> idle source id */

static gboolean answer_now(gpointer data)
{
	Answer *a = data;
	struct sockaddr_in *sin = g_new0(struct sockaddr_in, 1);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(purple_dnsquery_get_port(a->query));
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	GSList *hosts = g_slist_append(NULL, GINT_TO_POINTER(sizeof(*sin)));
	hosts = g_slist_append(hosts, sin);
	g_hash_table_remove(answers, a->query);
	a->resolved(a->query, hosts);
	return FALSE;
}

static gboolean in_lab_domain(const char *host)
{
	size_t n = strlen(host), d = strlen(lab_domain);
	return g_ascii_strcasecmp(host, lab_domain) == 0 ||
	       (n > d + 1 && host[n - d - 1] == '.' && g_ascii_strcasecmp(host + n - d, lab_domain) == 0);
}

static gboolean resolve_host(PurpleDnsQueryData *query, PurpleDnsQueryResolvedCallback resolved,
                             PurpleDnsQueryFailedCallback failed)
{
	const char *host = purple_dnsquery_get_host(query);
	if (host == NULL || !in_lab_domain(host))
		return FALSE; /* libpurple's own lookup */
	Answer *a = g_new0(Answer, 1);
	a->query = query;
	a->resolved = resolved;
	guint id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, answer_now, a, g_free);
	g_hash_table_insert(answers, query, GUINT_TO_POINTER(id));
	return TRUE;
}

static void dns_destroy(PurpleDnsQueryData *query)
{
	gpointer id;
	if (g_hash_table_lookup_extended(answers, query, NULL, &id)) {
		g_source_remove(GPOINTER_TO_UINT(id));
		g_hash_table_remove(answers, query);
	}
}

static PurpleDnsQueryUiOps dns_ops = {resolve_host, dns_destroy, NULL, NULL, NULL, NULL};

/* ---- requests: refused, and reported ------------------------------------------------------------------------------ */

typedef struct {
	PurpleRequestType type;
	GCallback callback;
	int index;
	void *user_data;
	PurpleRequestFields *fields;
} Refusal;

static gboolean refuse_now(gpointer data)
{
	Refusal *r = data;
	if (r->callback != NULL) {
		if (r->type == PURPLE_REQUEST_ACTION)
			((PurpleRequestActionCb)r->callback)(r->user_data, r->index);
		else if (r->type == PURPLE_REQUEST_FIELDS)
			((PurpleRequestFieldsCb)r->callback)(r->user_data, r->fields);
		else if (r->type == PURPLE_REQUEST_INPUT)
			((PurpleRequestInputCb)r->callback)(r->user_data, NULL);
	}
	purple_request_close(r->type, r);
	return FALSE;
}

static void *refuse(PurpleRequestType type, const char *title, const char *primary, GCallback callback, int index,
                    void *user_data, PurpleRequestFields *fields)
{
	gchar *t = one_line(title), *p = one_line(primary);
	say("PROMPT %s: %s", t, p);
	g_free(t);
	g_free(p);
	Refusal *r = g_new0(Refusal, 1);
	r->type = type;
	r->callback = callback;
	r->index = index;
	r->user_data = user_data;
	r->fields = fields;
	g_idle_add(refuse_now, r);
	return r;
}

static void *request_input(const char *title, const char *primary, const char *secondary, const char *value,
                           gboolean multiline, gboolean masked, gchar *hint, const char *ok_text, GCallback ok_cb,
                           const char *cancel_text, GCallback cancel_cb, PurpleAccount *a, const char *who,
                           PurpleConversation *conv, void *user_data)
{
	return refuse(PURPLE_REQUEST_INPUT, title, primary, cancel_cb, 0, user_data, NULL);
}

static void *request_action(const char *title, const char *primary, const char *secondary, int default_action,
                            PurpleAccount *a, const char *who, PurpleConversation *conv, void *user_data,
                            size_t count, va_list actions)
{
	/* The certificate prompt offers Accept, Reject, View: take the refusing one. */
	GCallback chosen = NULL;
	int index = 0;
	for (size_t i = 0; i < count; i++) {
		const char *label = va_arg(actions, const char *);
		GCallback cb = va_arg(actions, GCallback);
		if (label && (strstr(label, "Reject") || strstr(label, "Cancel") || strstr(label, "No"))) {
			chosen = cb;
			index = (int)i;
		}
	}
	return refuse(PURPLE_REQUEST_ACTION, title, primary, chosen, index, user_data, NULL);
}

static void *request_fields(const char *title, const char *primary, const char *secondary,
                            PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb, const char *cancel_text,
                            GCallback cancel_cb, PurpleAccount *a, const char *who, PurpleConversation *conv,
                            void *user_data)
{
	return refuse(PURPLE_REQUEST_FIELDS, title, primary, cancel_cb, 0, user_data, fields);
}

static void close_request(PurpleRequestType type, void *handle)
{
	g_free(handle);
}

static PurpleRequestUiOps request_ops = {
	request_input, NULL, request_action, request_fields, NULL, close_request, NULL, NULL, NULL, NULL, NULL,
};

/* ---- what libpurple reports ---------------------------------------------------------------------------------------- */

static void print_status(PurpleBuddy *buddy)
{
	PurpleStatus *status = purple_presence_get_active_status(purple_buddy_get_presence(buddy));
	gchar *message = one_line(status ? purple_status_get_attr_string(status, "message") : NULL);
	say("STATUS %s\t%s\t%s", purple_buddy_get_name(buddy), status ? purple_status_get_id(status) : "?", message);
	g_free(message);
}

static void print_buddy(PurpleBuddy *buddy)
{
	PurpleGroup *group = purple_buddy_get_group(buddy);
	say("BUDDY %s\t%s", purple_buddy_get_name(buddy), group ? purple_group_get_name(group) : "");
}

static void on_signed_on(PurpleConnection *gc, gpointer data)
{
	say("SIGNED-ON");
}

static void on_connection_error(PurpleConnection *gc, PurpleConnectionError reason, const char *text, gpointer data)
{
	gchar *t = one_line(text);
	say("ERROR %d %s", (int)reason, t);
	g_free(t);
}

static void on_status_changed(PurpleBuddy *buddy, PurpleStatus *old, PurpleStatus *now, gpointer data)
{
	print_status(buddy);
}

static void on_signed_on_buddy(PurpleBuddy *buddy, gpointer data)
{
	print_status(buddy);
}

static void on_signed_off_buddy(PurpleBuddy *buddy, gpointer data)
{
	say("OFFLINE %s", purple_buddy_get_name(buddy));
}

static void on_buddy_added(PurpleBuddy *buddy, gpointer data)
{
	print_buddy(buddy);
}

static void on_node_added(PurpleBlistNode *node, gpointer data)
{
	if (PURPLE_BLIST_NODE_IS_GROUP(node))
		say("GROUP %s", purple_group_get_name((PurpleGroup *)node));
}

/* ---- commands ---------------------------------------------------------------------------------------------------- */

static void roster(void)
{
	for (PurpleBlistNode *g = purple_blist_get_root(); g; g = purple_blist_node_get_sibling_next(g))
		for (PurpleBlistNode *c = purple_blist_node_get_first_child(g); c; c = purple_blist_node_get_sibling_next(c))
			for (PurpleBlistNode *b = purple_blist_node_get_first_child(c); b;
			     b = purple_blist_node_get_sibling_next(b))
				if (PURPLE_BLIST_NODE_IS_BUDDY(b)) {
					print_buddy((PurpleBuddy *)b);
					print_status((PurpleBuddy *)b);
				}
	say("ROSTER-END");
}

static void command(gchar *line)
{
	gchar **words = g_strsplit(g_strstrip(line), " ", 3);
	const char *verb = words[0] ? words[0] : "";
	if (strcmp(verb, "status") == 0 && words[1]) {
		const char *message = words[2] ? words[2] : "";
		purple_account_set_status(account, words[1], TRUE, "message", message, NULL);
		say("OK status");
	} else if (strcmp(verb, "add-buddy") == 0 && words[1] && words[2]) {
		PurpleGroup *group = purple_find_group(words[2]);
		if (group == NULL) {
			group = purple_group_new(words[2]);
			purple_blist_add_group(group, NULL);
		}
		PurpleBuddy *buddy = purple_buddy_new(account, words[1], NULL);
		purple_blist_add_buddy(buddy, NULL, group, NULL);
		purple_account_add_buddy(account, buddy);
		say("OK add-buddy");
	} else if (strcmp(verb, "roster") == 0) {
		roster();
	} else if (strcmp(verb, "quit") == 0) {
		purple_account_set_enabled(account, UI_ID, FALSE);
		g_main_loop_quit(loop);
	} else if (verb[0] != '\0') {
		say("ERROR 0 unknown command %s", verb);
	}
	g_strfreev(words);
}

static gboolean on_stdin(GIOChannel *channel, GIOCondition condition, gpointer data)
{
	gchar *line = NULL;
	GIOStatus status = g_io_channel_read_line(channel, &line, NULL, NULL, NULL);
	if (status == G_IO_STATUS_NORMAL && line) {
		command(line);
		g_free(line);
		return TRUE;
	}
	g_free(line);
	if (status == G_IO_STATUS_AGAIN)
		return TRUE;
	/* Standard input closed: the test is gone. */
	g_main_loop_quit(loop);
	return FALSE;
}

/* ---- setup ------------------------------------------------------------------------------------------------------- */

static PurpleCoreUiOps core_ops = {NULL, debug_ui_init, NULL, NULL, NULL, NULL, NULL, NULL};

static void trust_ca(const char *path)
{
	PurpleCertificateScheme *x509 = purple_certificate_find_scheme("x509");
	PurpleCertificatePool *ca = purple_certificate_find_pool("x509", "ca");
	if (x509 == NULL || ca == NULL) {
		say("ERROR 0 libpurple has no x509 certificate scheme or CA pool (no TLS plugin?)");
		exit(2);
	}
	GSList *certs = purple_certificates_import(x509, path);
	if (certs == NULL) {
		say("ERROR 0 cannot read the CA certificate %s", path);
		exit(2);
	}
	for (GSList *l = certs; l; l = l->next) {
		PurpleCertificate *crt = l->data;
		gchar *id = purple_certificate_get_unique_id(crt);
		if (!purple_certificate_pool_store(ca, id, crt)) {
			say("ERROR 0 libpurple refused %s as a CA", path);
			exit(2);
		}
		g_free(id);
		purple_certificate_destroy(crt);
	}
	g_slist_free(certs);
}

int main(int argc, char **argv)
{
	gchar *user_dir = NULL, *username = NULL, *password_env = NULL, *server = NULL, *auth = NULL, *ca = NULL;
	gchar *domain = NULL, *log_path = NULL, *user_agent = NULL;
	GOptionEntry entries[] = {
	    {"user-dir", 0, 0, G_OPTION_ARG_STRING, &user_dir, "libpurple's user directory (fresh per run)", "DIR"},
	    {"username", 0, 0, G_OPTION_ARG_STRING, &username, "SIPE login: user@domain[,DOMAIN\\user]", "NAME"},
	    {"password-env", 0, 0, G_OPTION_ARG_STRING, &password_env, "environment variable with the password", "VAR"},
	    {"server", 0, 0, G_OPTION_ARG_STRING, &server, "registrar host:port", "HOST:PORT"},
	    {"auth", 0, 0, G_OPTION_ARG_STRING, &auth, "ntlm or tls-dsk", "SCHEME"},
	    {"ca", 0, 0, G_OPTION_ARG_STRING, &ca, "the lab CA certificate (PEM)", "FILE"},
	    {"domain", 0, 0, G_OPTION_ARG_STRING, &domain, "names under this domain resolve to 127.0.0.1", "DOMAIN"},
	    {"debug-log", 0, 0, G_OPTION_ARG_STRING, &log_path, "where libpurple's and SIPE's debug log goes", "FILE"},
	    {"user-agent", 0, 0, G_OPTION_ARG_STRING, &user_agent, "SIPE's User-Agent (default: SIPE's own)", "UA"},
	    {NULL},
	};
	GError *error = NULL;
	GOptionContext *context = g_option_context_new("- pidgin-sipe against the sfbkit lab pool");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || !user_dir || !username || !password_env ||
	    !server || !ca || !domain) {
		fprintf(stderr, "purple-driver: %s\n",
		        error ? error->message : "--user-dir, --username, --password-env, --server, --ca, --domain");
		return 2;
	}
	const char *password = g_getenv(password_env);
	if (password == NULL) {
		fprintf(stderr, "purple-driver: the environment variable %s is not set\n", password_env);
		return 2;
	}
	lab_domain = domain;
	if (log_path) {
		debug_log = fopen(log_path, "a");
		if (debug_log == NULL) {
			perror(log_path);
			return 2;
		}
	}
	answers = g_hash_table_new(g_direct_hash, g_direct_equal);

	/* SIPE writes its log lines only when libpurple's debug is verbose (purple-debug.c); never "unsafe". */
	purple_debug_set_verbose(TRUE);
	purple_util_set_user_dir(user_dir);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&loop_ops);
	if (!purple_core_init(UI_ID)) {
		fprintf(stderr, "purple-driver: libpurple did not initialise\n");
		return 2;
	}
	purple_request_set_ui_ops(&request_ops);
	purple_dnsquery_set_ui_ops(&dns_ops);
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_prefs_load();
	if (purple_find_prpl("prpl-sipe") == NULL) {
		say("ERROR 0 the prpl-sipe plugin is not installed (Debian package pidgin-sipe)");
		return 2;
	}
	trust_ca(ca);

	static int handle;
	purple_signal_connect(purple_connections_get_handle(), "signed-on", &handle, PURPLE_CALLBACK(on_signed_on), NULL);
	purple_signal_connect(purple_connections_get_handle(), "connection-error", &handle,
	                      PURPLE_CALLBACK(on_connection_error), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-status-changed", &handle,
	                      PURPLE_CALLBACK(on_status_changed), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-on", &handle, PURPLE_CALLBACK(on_signed_on_buddy),
	                      NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-signed-off", &handle,
	                      PURPLE_CALLBACK(on_signed_off_buddy), NULL);
	purple_signal_connect(purple_blist_get_handle(), "buddy-added", &handle, PURPLE_CALLBACK(on_buddy_added), NULL);
	purple_signal_connect(purple_blist_get_handle(), "blist-node-added", &handle, PURPLE_CALLBACK(on_node_added),
	                      NULL);

	account = purple_account_new(username, "prpl-sipe");
	purple_account_set_password(account, password);
	purple_account_set_remember_password(account, FALSE);
	purple_account_set_string(account, "server", server);
	purple_account_set_string(account, "transport", "tls");
	purple_account_set_string(account, "authentication", auth ? auth : "ntlm");
	if (user_agent)
		purple_account_set_string(account, "useragent", user_agent);
	purple_accounts_add(account);

	loop = g_main_loop_new(NULL, FALSE);
	GIOChannel *in = g_io_channel_unix_new(0);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, NULL);
	say("READY");
	purple_account_set_enabled(account, UI_ID, TRUE);
	g_main_loop_run(loop);
	purple_core_quit();
	if (debug_log)
		fclose(debug_log);
	return 0;
}
