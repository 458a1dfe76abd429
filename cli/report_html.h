/* report_html.h -- library-free helpers of `simnet report`: HTML escaping, a base64
 * encoder (RFC 4648, with '=' padding, no line breaks), PNG files embedded as data: URIs,
 * the page frame with its inline CSS, and a small reader for the flat metrics JSON that
 * `simnet eval --json` writes. */
#ifndef SN_CLI_REPORT_HTML_H
#define SN_CLI_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Base64 of in[0..n) into out; out needs 4*((n+2)/3) + 1 bytes. Returns the length
 * written (without the terminating NUL). */
size_t rep_base64(const unsigned char *in, size_t n, char *out);
/* Write s to f with & < > " ' escaped. */
void rep_escape(FILE *f, const char *s);

/* Read the PNG at path (checking its 8-byte signature) and write
 *   <figure><img alt=.. src="data:image/png;base64,..."><figcaption>..</figcaption></figure>
 * Returns 0, or -1 with a message naming the file in err. */
int rep_embed_png(FILE *f, const char *path, const char *title, const char *caption, char *err,
                  size_t errcap);

typedef struct {
    char key[64];
    double value; /* NaN for null */
} rep_metric;
/* Top-level "key": number | null members of the JSON object in path (nested objects such
 * as "baselines" are skipped). Returns the count (<= cap), or -1 with a message naming
 * the file and the byte offset in err. */
int rep_read_metrics_json(const char *path, rep_metric *out, int cap, char *err, size_t errcap);

/* <!DOCTYPE html> ... <body>, with the page's CSS inline; and the closing tags. */
void rep_page_begin(FILE *f, const char *title);
void rep_page_end(FILE *f);

#endif
