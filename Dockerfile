# Multi-stage build: compile in the Rust image, run as a non-root user in a slim image.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migrations ./migrations
COPY src ./src
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/casebook-ghl-gateway --create-home gateway
COPY --from=build /src/target/release/casebook-ghl-gateway /usr/local/bin/casebook-ghl-gateway
USER gateway
WORKDIR /var/lib/casebook-ghl-gateway
ENV CBG_LISTEN=0.0.0.0:4000
EXPOSE 4000
ENTRYPOINT ["casebook-ghl-gateway"]
CMD ["serve", "--config", "/etc/casebook-ghl-gateway/gateway.toml"]
