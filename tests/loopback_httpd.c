/* loopback_httpd.c -- tiny HTTP/1.0 file server on 127.0.0.1 for tests/cli_fetch.sh
 * (built there with cc; not a CTest test itself).
 *
 * usage: loopback_httpd DIR [LIFETIME_S]
 * Binds an ephemeral port on 127.0.0.1, prints it on stdout, then serves GET /MODE/FILE
 * from DIR/FILE (FILE: one path component):
 *   /good/FILE       the whole file
 *   /truncated/FILE  a Content-Length of the whole file, then only its first half, then close
 *   /corrupt/FILE    the whole file with every 997th byte inverted
 *   /slow/FILE       the whole file at about 8 KB/s (for interrupting a transfer)
 * Anything else: 404. One connection at a time; exits after LIFETIME_S (default 120). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void reply(int fd, int code, const char *msg) {
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.0 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, msg, strlen(msg), msg);
    send_all(fd, h, (size_t)n);
}

static void serve(int fd, const char *dir) {
    char req[8192], mode[32], file[256], path[4096];
    size_t got = 0;
    while (got + 1 < sizeof req) {
        ssize_t r = read(fd, req + got, sizeof req - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[got] = 0;
    if (sscanf(req, "GET /%31[^/]/%255[^ ] HTTP/", mode, file) != 2 || strchr(file, '/') ||
        !strcmp(file, "..") || !strcmp(file, ".")) {
        reply(fd, 404, "not found\n");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    int m = !strcmp(mode, "good") ? 0 : !strcmp(mode, "truncated") ? 1
                                      : !strcmp(mode, "corrupt")   ? 2
                                      : !strcmp(mode, "slow")      ? 3 : -1;
    if (!f || m < 0) {
        if (f) fclose(f);
        reply(fd, 404, "not found\n");
        return;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %ld\r\nConnection: close\r\n\r\n", size);
    send_all(fd, h, (size_t)n);
    long limit = m == 1 ? size / 2 : size, off = 0;
    char buf[65536];
    while (off < limit) {
        size_t chunk = m == 3 ? 1024 : sizeof buf;
        size_t want = (size_t)(limit - off) < chunk ? (size_t)(limit - off) : chunk;
        size_t r = fread(buf, 1, want, f);
        if (r == 0) break;
        if (m == 2)
            for (size_t i = 0; i < r; i++)
                if ((off + (long)i) % 997 == 500) buf[i] = (char)~buf[i];
        if (send_all(fd, buf, r)) break;
        off += (long)r;
        if (m == 3) {
            struct timespec ts = {0, 125 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [LIFETIME_S]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(argc > 2 ? (unsigned)atoi(argv[2]) : 120u);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof a;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16) ||
        getsockname(s, (struct sockaddr *)&a, &al)) {
        perror("loopback_httpd");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        serve(c, argv[1]);
        shutdown(c, SHUT_WR);
        close(c);
    }
}
