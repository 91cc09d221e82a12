# syntax=docker/dockerfile:1
#
# streamgate container image.
#
#   docker build -t streamgate .
#   docker run --rm -p 8080:8080 -p 9901:9901 \
#       -v "$PWD/gateway.toml:/etc/streamgate/gateway.toml:ro" streamgate
#
# The config must listen on "*:PORT" (not 127.0.0.1) to be reachable from outside the
# container, and point [upstreams.*] at addresses the container can reach. The image ships a
# default config (gateway.example.toml with listener and admin on all interfaces) so that it
# starts; mount your own over /etc/streamgate/gateway.toml.

# ---- build -------------------------------------------------------------------------------
# The repository is developed and tested with Swift 6.3.1 (CI: swift-6.3.1-RELEASE on Debian
# 12); the 6.3 bookworm image matches that compiler and the runtime stage's Debian release.
# Older toolchains (6.1, 6.2) are untested. Override with --build-arg SWIFT_IMAGE=...
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libevent-dev libhiredis-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# --static-swift-stdlib: the Swift runtime is linked in, so the runtime image needs only the
# C libraries. `ldd` of both binaries (built this way with 6.3.1 on bookworm) lists exactly:
# libevent_{core,extra,openssl,pthreads}-2.1.so.7, libhiredis.so.0.14, libssl.so.3,
# libcrypto.so.3, libstdc++.so.6, libgcc_s.so.1, libm/libc: the runtime packages below.
# Stripped, streamgate is ~16 MB (Foundation included). The cache mount keeps .build between
# builds; the binaries are copied out of it in the same step.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product streamgate \
    && swift build -c release --static-swift-stdlib --product streamgate-demo-upstream \
    && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && mkdir -p /out \
    && cp "$bin/streamgate" "$bin/streamgate-demo-upstream" /out/ \
    && strip /out/streamgate /out/streamgate-demo-upstream \
    && sed -e 's/^address = "127\.0\.0\.1:8080"/address = "*:8080"/' \
           -e 's/^address = "127\.0\.0\.1:9901"/address = "*:9901"/' \
           gateway.example.toml > /out/gateway.toml \
    && grep -q '^address = "\*:8080"' /out/gateway.toml \
    && grep -q '^address = "\*:9901"' /out/gateway.toml \
    && /out/streamgate version

# ---- runtime ------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        libevent-core-2.1-7 libevent-extra-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 \
        libhiredis0.14 libssl3 libstdc++6 libgcc-s1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin streamgate

COPY --from=build /out/streamgate /out/streamgate-demo-upstream /usr/local/bin/
COPY --from=build --chown=root:root --chmod=0644 /out/gateway.toml /etc/streamgate/gateway.toml

# Fail the build if a shared library is missing from the list above.
RUN ! ldd /usr/local/bin/streamgate /usr/local/bin/streamgate-demo-upstream | grep 'not found' \
    && streamgate check --config /etc/streamgate/gateway.toml >/dev/null

USER streamgate
VOLUME ["/etc/streamgate"]
# 8080: the example listener. 9901: admin (/healthz, /readyz, /metrics).
EXPOSE 8080 9901

# Health: GET /healthz on the admin listener. Done with bash's /dev/tcp rather than curl:
# bash is already in the base image, curl would add libcurl and a dozen libraries (and their
# CVEs) to an image that otherwise needs none of them. Needs [admin] address on port 9901.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9901 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 proto status _ <&3 && [[ $status == 200 ]]"]

# SIGTERM (docker stop) drains open streams for [gateway] drain_timeout, then exits 0: give
# `docker stop --time` at least that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["streamgate", "run", "--config", "/etc/streamgate/gateway.toml"]
