# syntax=docker/dockerfile:1
# kvs-operator image: the release binary on distroless/cc (glibc, libgcc_s, CA
# certificates, no shell), running as the image's non-root user.
#
#   docker build -t kvs-operator:<version> .    # the version in Cargo.toml
#
# The builder is Debian 12 like the runtime, so the binary needs no newer glibc
# than the runtime has; stripping its symbol table saves about a fifth of it.
# hack/image-check.sh proves in CI that the binary this copies builds with
# --locked from this build context, runs, and links against nothing else;
# hack/image.sh then builds this image without Docker (USER, ENTRYPOINT and CMD
# read from here, the base from Debian 12's packages) for the node-mode tests,
# which check it against this file.

ARG RUST_VERSION=1.94

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin kvs-operator \
    && strip -o /kvs-operator target/release/kvs-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /kvs-operator /kvs-operator
# The distroless "nonroot" user, numeric so that runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["/kvs-operator"]
CMD ["run"]
