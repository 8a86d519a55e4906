# Dockerfile - txscoped as a container: built and unit-tested in one stage, shipped on
# debian:bookworm-slim with the runtime libraries, the two programs, the default config
# and a non-root user. Configured by environment only (docs/configuration.md). Needs
# BuildKit (Docker's builder since 23.0; podman and buildah too) for RUN --mount.
#
#   docker build -t txscope .
#   docker run -e TXSCOPE_DB_MAIN_DSN=postgresql://app:secret@10.0.0.5:5432/app \
#       -e TXSCOPE_AUTH_TOKEN=change-me -p 127.0.0.1:7432:7432 -p 127.0.0.1:7433:7433 txscope
#
# No Docker runs where txscope is tested: tests/scripts/image_test.sh runs the scripts
# below (deploy/image/build.sh, deploy/image/runtime.sh), copies what the COPY lines copy,
# and starts the result as the USER with the ENV, the HEALTHCHECK and the EXPOSEd ports
# read from this file. Keep every instruction on lines of its own (`\` continues one).

FROM debian:bookworm-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libuv1-dev libpq-dev libcjson-dev libinih-dev \
        uthash-dev libedit-dev check libsubunit-dev default-libmysqlclient-dev \
        libhttp-parser-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release binaries, the unit tests (release flavour, run), make install into /out.
RUN sh deploy/image/build.sh /out

FROM debian:bookworm-slim
# What ldd lists for the two programs, and ca-certificates for TLS to the database.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libuv1 libpq5 libmariadb3 libinih1 libhttp-parser2.9 \
        libcjson1 libedit2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/bin/txscoped /out/usr/bin/txscope /usr/bin/
COPY --from=build /out/etc/txscope/txscope.ini /etc/txscope/txscope.ini
# The txscope user (10001:10001), owners and modes, and a smoke test as that user.
RUN --mount=type=bind,source=deploy/image/runtime.sh,target=/tmp/runtime.sh \
    sh /tmp/runtime.sh /

# The sample config holds every default; the environment overrides it. A container must
# listen beyond loopback: both ports on every interface (set TXSCOPE_AUTH_TOKEN, or
# TXSCOPE_LISTEN=127.0.0.1:7432 in a pod whose app reaches it on loopback). The user gives
# TXSCOPE_DB_MAIN_DSN.
ENV TXSCOPE_CONFIG=/etc/txscope/txscope.ini TXSCOPE_LISTEN=0.0.0.0:7432 TXSCOPE_ADMIN_LISTEN=0.0.0.0:7433
EXPOSE 7432 7433

# Numeric, so that Kubernetes' runAsNonRoot can check it is not root.
USER 10001:10001

# `txscope ping` on the client port from inside the container: a wildcard listen address
# is reached on loopback. With tokens configured ping must say hello first; the token
# goes by TXSCOPE_TOKEN (the CLI's variable) rather than -t, so that it never shows in
# the process list: TXSCOPE_AUTH_TOKEN, else the first TXSCOPE_TOKEN_<NAME>.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD l="${TXSCOPE_LISTEN:-127.0.0.1:7432}"; h="${l%:*}"; \
        case "$h" in 0.0.0.0|"[::]") h=127.0.0.1 ;; esac; \
        TXSCOPE_TOKEN="${TXSCOPE_AUTH_TOKEN:-$(env | sed -n 's/^TXSCOPE_TOKEN_[A-Z0-9_]*=//p' | head -n 1)}" \
        exec txscope ping --timeout 3 -a "$h:${l##*:}"

# SIGTERM drains: new connections refused, /readyz 503, connected clients go on until
# they disconnect or drain_timeout (default 30s) passes; the rest is rolled back, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["txscoped"]
