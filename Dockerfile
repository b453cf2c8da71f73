# The image charts/switchboard runs: switchboard (the router) and switchboardctl (used by the
# chart's `helm test` pod). Not built in CI (no container engine runs there); build it with
#   docker build -t <registry>/switchboard:0.1.0 .
#
# Build stage: the repository's own dependency script and release preset, as `make` uses them.
# Only the debug info is stripped: the symbol table stays, so a crash's log lines name the
# functions (router/common/crash_report.h).
FROM debian:12 AS build
WORKDIR /src
COPY tools/install-deps.sh tools/install-deps.sh
RUN tools/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake --preset release \
 && cmake --build build/release -j "$(nproc)" --target switchboard switchboardctl \
 && install -D build/release/router/switchboard /out/usr/local/bin/switchboard \
 && install -D build/release/tools/switchboardctl/switchboardctl /out/usr/local/bin/switchboardctl \
 && strip --strip-debug /out/usr/local/bin/switchboard /out/usr/local/bin/switchboardctl

# Runtime stage: only the shared libraries the two binaries link (Debian 12 package names; hiredis
# for the Redis store) and a non-root user whose uid/gid (10001) the chart's securityContext names.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libabsl20220623 libboost-json1.81.0 libboost-url1.81.0 libc-ares2 libfmt9 \
      libgrpc++1.51 libgrpc29 libhiredis0.14 libprotobuf32 libre2-9 libspdlog1.10 libsqlite3-0 \
      libssl3 libyaml-cpp0.7 libgmime-3.0-0 libjemalloc2 libxxhash0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/switchboard --no-create-home \
      --shell /usr/sbin/nologin switchboard \
 && install -d -o 10001 -g 10001 /var/lib/switchboard \
 && install -d /etc/switchboard
COPY --from=build /out/ /
USER 10001:10001
WORKDIR /var/lib/switchboard
EXPOSE 8080 50051
# SIGTERM drains HTTP for up to 10 s, then ends agent streams (the chart's grace period covers it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchboard"]
CMD ["--config", "/etc/switchboard/config/switchboard.yaml"]
