# A kind node image whose containerd can checkpoint: CRIU >= 4.2 built from
# source (older CRIU fails on kernels >= 6.16), iptables for CRIU's network
# lock, and /etc/criu/runc.conf allowing established TCP connections.
ARG KIND_NODE_IMAGE=kindest/node:v1.37.2
ARG CRIU_VERSION=4.2.1

FROM debian:bookworm AS criu
ARG CRIU_VERSION
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential ca-certificates curl pkg-config python3-protobuf \
      libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
      libnl-3-dev libcap-dev libnet1-dev libbsd-dev libgnutls28-dev libnftables-dev uuid-dev
RUN curl -fsSL "https://github.com/checkpoint-restore/criu/archive/refs/tags/v${CRIU_VERSION}.tar.gz" | tar -xz \
 && make -C "criu-${CRIU_VERSION}" -j"$(nproc)" criu \
 && install -m 0755 "criu-${CRIU_VERSION}/criu/criu" /criu

FROM ${KIND_NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends \
      iptables libprotobuf-c1 libnl-3-200 libnet1 libbsd0 libgnutls30 libnftables1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=criu /criu /usr/local/sbin/criu
RUN mkdir -p /etc/criu && printf 'tcp-established\n' > /etc/criu/runc.conf && criu --version
