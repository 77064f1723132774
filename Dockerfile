# Build stage: compile the release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY migration ./migration
COPY src ./src
COPY openapi ./openapi
RUN cargo build --release --locked --bin renkei

# Runtime stage: a small image running as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/renkei --create-home renkei
COPY --from=build /src/target/release/renkei /usr/local/bin/renkei
USER renkei
WORKDIR /var/lib/renkei
ENV RENKEI_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/usr/local/bin/renkei"]
CMD ["serve"]
