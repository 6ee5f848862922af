# The image of every workspace member: `deno task <task> [args...]` selects what runs, e.g.
#   docker run IMAGE observe
#   docker run IMAGE agent researcher
# Build: docker build -t multi-agent-telemetry:dev .   (k8s/*.yaml reference that name)
#
# Deno is pinned to the version the project is developed and tested with (deno 2.9.6 here and
# in CI); denoland/deno publishes one tag per release. BASE_IMAGE replaces it with an image of the
# same layout (deno on PATH, user and group `deno` 1993, DENO_DIR=/deno-dir), e.g. the one
# `deno task images build` makes from Debian packages where no image registry can be reached:
#   docker build --build-arg BASE_IMAGE=localhost/deno-base:2.9.6 -t multi-agent-telemetry:dev .
ARG BASE_IMAGE=denoland/deno:2.9.6
FROM ${BASE_IMAGE}

# DENO_DIR as denoland/deno sets it, stated here so that any base caches in the same place.
ENV DENO_DIR=/deno-dir/ \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1
WORKDIR /app

# The CA file of a TLS-intercepting proxy, for the npm downloads below; unset by default. The file
# must be there while RUN steps run, e.g. `buildah build --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
# --build-arg DENO_CERT=/run/host-ca.crt`, as `deno task images build` does. It is not in the image.
ARG DENO_CERT=

# Dependencies first, so that source changes do not invalidate this layer.
COPY deno.json deno.lock ./
COPY agents/deno.json agents/deno.json
COPY observer/deno.json observer/deno.json
COPY oracle/deno.json oracle/deno.json
RUN deno install

COPY agents/ agents/
COPY observer/ observer/
COPY oracle/ oracle/
COPY scripts/ scripts/
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Cache every entry point a task runs (members' *main.ts), so a pod starts without the network
# and can run with a read-only root file system (DENO_DIR is only read at run time).
RUN find agents observer oracle -maxdepth 1 -name '*main.ts' -print0 \
      | xargs -0 --no-run-if-empty deno cache \
    && chmod -R a+rX /app "${DENO_DIR}"

# The image's unprivileged user `deno`; the k8s manifests run as the same uid.
USER 1993:1993
ENTRYPOINT ["deno", "task"]
CMD ["observe"]
