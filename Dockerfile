# jobstream: one image for every service (projector, worker, callbacks, the command line).
FROM python:3.11-slim

# git: job documents may check out git sources; the runner calls it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN pip install --no-cache-dir . && rm -rf /src

# Jobs run as this user, never as root.
RUN useradd --create-home --uid 1000 jobstream \
    && mkdir -p /data \
    && chown jobstream:jobstream /data
USER jobstream
WORKDIR /home/jobstream

# The DuckDB views, workspaces, the secret key and worker health files live here.
ENV JOBSTREAM_DATA_DIR=/data
VOLUME ["/data"]

ENTRYPOINT ["jobstream"]
CMD ["--help"]
