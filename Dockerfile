# syntax=docker/dockerfile:1
# claudewatch container image: a release build in the official Rust image, run from distroless/cc
# (glibc, libgcc, CA certificates, a `nonroot` user, no shell, no package manager).
#
#   docker build -t claudewatch --build-arg CLAUDEWATCH_REVISION="$(git rev-parse --short=12 HEAD)" .
#   docker run -p 9464:9464 -e ANTHROPIC_API_KEY claudewatch

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
# build.rs stamps this into claudewatch_build_info{revision}; .git is not in the build context.
ARG CLAUDEWATCH_REVISION=unknown
ENV CLAUDEWATCH_REVISION=${CLAUDEWATCH_REVISION}
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs rustfmt.toml ./
COPY src ./src
COPY config ./config
# The registry and target caches survive between builds; the binary is copied out of the cache
# mount because the mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin claudewatch \
    && install -D -m 0755 target/release/claudewatch /out/claudewatch

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="claudewatch" \
      org.opencontainers.image.description="Watches the Claude API (status page, synthetic probes, app retries) and exports Prometheus metrics" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/claudewatch/claudewatch"
COPY --from=builder /out/claudewatch /usr/local/bin/claudewatch
COPY config/claudewatch.toml /etc/claudewatch/claudewatch.toml
# Mount your own config over this file, or point CLAUDEWATCH_CONFIG elsewhere.
ENV CLAUDEWATCH_CONFIG=/etc/claudewatch/claudewatch.toml
# distroless's nonroot user (65532); numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 9464
# No curl in this image: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/claudewatch", "healthcheck", "--addr", "127.0.0.1:9464"]
ENTRYPOINT ["/usr/local/bin/claudewatch"]
CMD ["run"]
