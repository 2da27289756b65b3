/* The libcurl client every curl-based backend shares: handles pooled (so
 * connections stay alive), credentials, TLS and timeouts set once, and a
 * request sent again, backing off, after transient failures. */
#ifndef RELAY_BACKENDS_TRANSPORT_H
#define RELAY_BACKENDS_TRANSPORT_H

#include "relay/backend.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

/* Initialise libcurl (and libxml2) once per process; thread-safe.
 * Returns 0, or -EIO when libcurl cannot be initialised. */
int transport_global_init(void);

struct transport_settings {
	const char *protocols;	/* CURLOPT_PROTOCOLS_STR, "http,https" */
	const char *user;	/* NULL: none (or ~/.netrc) */
	const char *password;	/* NULL: none; never logged */
	const char *cacert;	/* PEM file of a private CA, or NULL */
	bool insecure;		/* skip TLS verification */
	long connect_timeout;	/* seconds */
	long io_timeout;	/* seconds without progress before failing */
	unsigned transfers;	/* handles (connections) at most */
	/* FTP: explicit TLS (AUTH TLS) required, for ftps:// relays */
	bool ftp_tls;
	/* SFTP: the private key (NULL: the agent, or libssh2's default)
	 * and the known_hosts file every host key must be found in */
	const char *ssh_key;
	const char *known_hosts;
};


struct transport;

struct transport *transport_new(const struct transport_settings *set);
void transport_free(struct transport *tp);
/* The user and password of URL u, decoded, where *user and *password
 * are still NULL (the options' win); g_free them. */
void transport_url_credentials(CURLU *u, char **user, char **password);

/* Why the last SSH connection's host key was refused, or NULL. */
const char *transport_host_key_problem(struct transport *tp);

struct transfer;

/* What a backend decides about its own requests. */
struct transfer_hooks {
	/* The first bytes of a 2xx answer to a download are there (its
	 * headers can be read): -errno aborts it. NULL: nothing to check. */
	int (*on_start)(struct transfer *t);
	/* May the request be sent again after this answer or failure? */
	bool (*may_retry)(const struct transfer *t);
	/* The answer is complete, its headers still readable. */
	void (*on_answer)(struct transfer *t);
};

/* One request, kept across its attempts: fill it (transfer_init, then the
 * fields), send it with transfer_perform, read the answer, clear it. */
struct transfer {
	struct transport *tp;
	const struct transfer_hooks *hooks;
	void *owner;		/* the backend's request */
	const char *method;	/* "GET", "PUT" or any other */
	char *url;
	const char *target;	/* what messages name (no credentials) */
	struct curl_slist *headers;
	const char *post;	/* a request body (NUL-terminated), or NULL */
	/* curl's CURLOPT_CUSTOMREQUEST: the method but for GET and PUT, or
	 * an FTP listing command ("MLSD"); NULL: curl's own */
	const char *request;
	/* FTP and SFTP commands sent before and after the transfer, and
	 * whether there is no transfer at all (only the commands) */
	struct curl_slist *quote, *postquote;
	bool nobody;
	bool filetime;	/* FTP: ask for the file's mtime (MDTM) as well */
	/* FTP: the server's reply lines (after the login) are kept here */
	GString *replies;
	/* an upload: size bytes from fd when >= 0, else from data, else
	 * (size unknown: HTTP's chunked encoding) what source hands over */
	bool upload;
	int fd;
	const void *data;
	backend_source_fn source;
	void *source_ctx;
	uint64_t size, sent;
	/* a download through sink: bytes [offset, offset + remaining) of
	 * the resource (remaining UINT64_MAX: to its end); without a sink,
	 * the body goes to body, at most max_body bytes (else -EIO) */
	backend_sink_fn sink;
	void *ctx;
	uint64_t offset, remaining, skip;
	bool whole;	/* the answer ignores the range: stop once it is got */
	bool to_end;	/* ask for all from offset on, stop after remaining */
	size_t max_body;
	GString *body;
	/* the answer */
	CURL *handle;	/* during an attempt: headers can be read */
	CURLcode code;
	long status;
	char reason[256];
	char errbuf[CURL_ERROR_SIZE];
	bool started;	 /* a download's sink was fed in this attempt */
	bool done;	 /* it got all it asked for */
	bool maybe_done; /* an earlier attempt may have taken effect */
	int local_err;	 /* a sink's or a hook's errno */
};

void transfer_init(struct transfer *t, struct transport *tp,
		   const struct transfer_hooks *hooks, void *owner,
		   const char *method, char *url, const char *target);
void transfer_clear(struct transfer *t);
void transfer_add_header(struct transfer *t, const char *header);
/* An FTP or SFTP command, before (post false) or after the transfer. */
void transfer_add_command(struct transfer *t, bool post, const char *cmd);
/* Send t, again after a Digest challenge and, backing off, while
 * hooks->may_retry allows; 0 once an answer (any status) came, or the
 * errno of a local failure. The caller maps the answer. */
int transfer_perform(struct transfer *t);
/* A header of the answer (during on_start or on_answer), or NULL. */
const char *transfer_header(const struct transfer *t, const char *name);
/* The answer in words: "503 Service Unavailable", "550 No such file",
 * or curl's reason. */
char *transfer_describe(const struct transfer *t);
/* The transfer failed for want of a connection at all. */
bool transfer_connect_failed(const struct transfer *t);

#endif
