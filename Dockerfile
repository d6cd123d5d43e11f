# jobstream: one image for every service (projector, worker, callbacks, the command line).
#
# Two stages: the first builds the wheel from the source tree, the second installs only
# that wheel, so the image runs what `pip install jobstream` gives a user, and holds no
# source tree to import from by mistake.

FROM python:3.11-slim AS build

WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .


FROM python:3.11-slim

# git: job documents may check out git sources; the runner calls it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/jobstream-*.whl && rm -rf /tmp/dist

# Jobs run as this user, never as root.
RUN useradd --create-home --uid 1000 jobstream \
    && mkdir -p /data \
    && chown jobstream:jobstream /data
USER jobstream
WORKDIR /home/jobstream

# The README's examples, so `docker-compose run --rm cli submit examples/minimal.yml`
# works as written.
COPY --from=build --chown=jobstream:jobstream /src/examples/ /home/jobstream/examples/

# The DuckDB views, workspaces, the secret key and worker health files live here.
ENV JOBSTREAM_DATA_DIR=/data
VOLUME ["/data"]

ENTRYPOINT ["jobstream"]
CMD ["--help"]
