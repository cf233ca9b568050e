/* The guest's traffic and sockets for the kernel matrix: busybox has no way to send thousands
 * of datagrams a second or to hold a socket that never reads. Built static on the host by
 * tests/kernels/matrix.py.
 *
 *   rig send ADDR PORT PPS SECONDS       UDP datagrams at about PPS a second
 *   rig deaf PORT                         a UDP socket with a small buffer that never reads
 *   rig listen PORT                       a TCP listener with backlog 1 that never accepts
 *   rig connect ADDR PORT N               N TCP connections, left open
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr_of(const char *ip, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = ip ? inet_addr(ip) : INADDR_ANY;
    return a;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int send_udp(const char *ip, int port, int pps, double seconds) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = addr_of(ip, port);
    char payload[64] = "pktmap kernel matrix";
    double start = now(), step = 0.01;
    long sent = 0;
    while (now() - start < seconds) {
        /* Catch up to the rate in 10 ms steps. */
        long due = (long)((now() - start) * pps);
        for (; sent < due; sent++)
            sendto(s, payload, sizeof payload, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
        usleep((useconds_t)(step * 1e6));
    }
    return 0;
}

static int deaf(int port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0), small = 4096;
    struct sockaddr_in a = addr_of(NULL, port);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        return perror("bind"), 1;
    for (;;)
        pause();
}

static int listen_never_accept(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = addr_of(NULL, port);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0)
        return perror("listen"), 1;
    for (;;)
        pause();
}

static int connect_many(const char *ip, int port, int n) {
    struct sockaddr_in to = addr_of(ip, port);
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(s, (struct sockaddr *)&to, sizeof to);
        usleep(20000);
    }
    for (;;)
        pause();
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "send"))
        return send_udp(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
    if (argc >= 3 && !strcmp(argv[1], "deaf"))
        return deaf(atoi(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "listen"))
        return listen_never_accept(atoi(argv[2]));
    if (argc >= 5 && !strcmp(argv[1], "connect"))
        return connect_many(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: rig send ADDR PORT PPS SECONDS | deaf PORT | listen PORT | "
                    "connect ADDR PORT N\n");
    return 2;
}
