# ragway in a small runtime image: one static-ish binary on Debian slim.
#
#   docker build -t ragway .
#   docker run -p 8080:8080 -v ragway-data:/data -e RAGWAY_CHAT_BASE_URL=… -e RAGWAY_CHAT_API_KEY=… ragway
#
# The build stage compiles the LanceDB stack (20–35 minutes on two cores the
# first time; the cache mounts keep later builds incremental). The image is
# about 370 MB: the stripped binary (about 290 MB) on Debian slim.

FROM rust:1-bookworm AS build
# LanceDB's build needs protoc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ragway \
 && cp target/release/ragway /usr/local/bin/ragway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home ragway \
 && mkdir /data /models && chown ragway:ragway /data /models
COPY --from=build /usr/local/bin/ragway /usr/local/bin/ragway
USER ragway
# Built-in models (README, "Built-in models") live in /models: baked in at
# build time with --build-arg BAKE_MODELS="BAAI/bge-small-zh-v1.5 …"
# (HF_ENDPOINT for a mirror), else fetched at the first start (mount a
# volume there to keep them: a named volume starts with what was baked).
ARG BAKE_MODELS=""
ARG HF_ENDPOINT=""
RUN if [ -n "$BAKE_MODELS" ]; then \
      RAGWAY_MODELS_DIR=/models HF_ENDPOINT="$HF_ENDPOINT" ragway models pull $BAKE_MODELS; \
    fi
ENV RAGWAY_MODELS_DIR=/models
# On one machine everything lives in /data (SQLite, LanceDB, uploads, the
# server secret): mount a volume there. Scaled out (PostgreSQL + S3) nothing
# is written there; see docs/deploy.md.
ENV RAGWAY_LISTEN=0.0.0.0:8080 \
    RAGWAY_DATA_DIR=/data
VOLUME ["/data", "/models"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ragway"]
CMD ["serve"]
