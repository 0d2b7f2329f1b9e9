# syntax=docker/dockerfile:1
# Two images from one build:
#   docker build --target skylark          -t skylark:0.1.0 .           # `skylark` (broker, nameserver, CLI)
#   docker build --target skylark-operator -t skylark-operator:0.1.0 .  # the operator
# The operator is its own binary so kube and k8s-openapi stay out of the broker.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache the registry and target dir between builds; copy the binaries out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p skylark-cli --bin skylark \
 && cargo build --release --locked -p skylark-operator --bin skylark-operator \
 && mkdir -p /out \
 && cp target/release/skylark target/release/skylark-operator /out/

FROM debian:bookworm-slim AS runtime
# /bin/sh runs the broker's start script (the operator renders it into the ConfigMap).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 skylark \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/skylark --create-home skylark \
 && mkdir -p /run/skylark \
 && chown skylark:skylark /run/skylark

FROM runtime AS skylark-operator
COPY --from=build /out/skylark-operator /usr/local/bin/skylark-operator
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/skylark-operator"]

FROM runtime AS skylark
COPY --from=build /out/skylark /usr/local/bin/skylark
USER 10001:10001
WORKDIR /var/lib/skylark
# 9876 nameserver; 10909 fast, 10911 remoting, 10912 HA; 8080 /metrics /healthz /readyz.
EXPOSE 9876 10909 10911 10912 8080
ENTRYPOINT ["/usr/local/bin/skylark"]
CMD ["--help"]
