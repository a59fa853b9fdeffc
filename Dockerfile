# A slim samsvar image with the embedded default inside (the pinned FHIR packages).
#
#   docker build -t samsvar .
#   docker run --rm -v "$PWD:/work" samsvar validate fhir/ -f sarif -o samsvar.sarif
#
# The wheel build takes the pinned packages from embedded/tarballs/ in the build context (copy
# the .tgz files there for an offline build) or else from the registry named by the build
# argument SAMSVAR_EMBED_DOWNLOAD; each is checked against embedded/packages.toml, and the build
# fails if one is missing (SAMSVAR_EMBED_REQUIRE=1). It also compiles the engine's hottest modules
# with mypyc (build_support/compiled.py; gcc in the build stage only), and fails if they do not
# compile (SAMSVAR_COMPILE_REQUIRE=1): the image runs the compiled engine.
FROM python:3.11-slim AS wheel
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG SAMSVAR_EMBED_DOWNLOAD=https://packages.fhir.org
RUN SAMSVAR_EMBED_FROM=/src/embedded/tarballs SAMSVAR_EMBED_REQUIRE=1 SAMSVAR_COMPILE_REQUIRE=1 \
    python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=wheel /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 samsvar
USER samsvar
WORKDIR /work
ENTRYPOINT ["samsvar"]
CMD ["--help"]
