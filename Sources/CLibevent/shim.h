#ifndef CLIBEVENT_SHIM_H
#define CLIBEVENT_SHIM_H
// <sys/types.h> first: otherwise a clean build clashes on fd_set between libevent and OpenSSL.
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#endif
