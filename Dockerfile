# One image for every Berth process; docker-compose.yml picks the entry point per
# service with `command:` (python -m scheduler | token_database | executor_agent |
# scheduler_client | dashboard | scheduler.aws provision | scheduler.healthcheck).
# It holds the wheel with its [scheduler,agent,dashboard] extras only, at Pipfile.lock's versions:
# no AWS emulator and no test tools. The `emulator` target adds the emulator for
# docker-compose's development stack; the default (last) target is the image to deploy.

FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY berth ./berth
COPY berth_common ./berth_common
COPY scheduler ./scheduler
COPY token_database ./token_database
COPY executor_agent ./executor_agent
COPY scheduler_client ./scheduler_client
COPY dashboard ./dashboard
RUN python -m pip wheel --no-deps --wheel-dir /wheels .
COPY Pipfile.lock scripts/lock_constraints.py ./
RUN python lock_constraints.py Pipfile.lock > /wheels/constraints.txt

FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH
WORKDIR /app
COPY --from=wheel /wheels /wheels
# pip compiles the installed modules' bytecode now, as root: processes and healthchecks
# then start without compiling.
RUN python -m venv /app/.venv \
    && python -m pip install --constraint /wheels/constraints.txt \
        "$(echo /wheels/berth-*.whl)[scheduler,agent,dashboard]"
COPY examples ./examples
COPY scheduler.py ./
RUN python -m compileall -q examples
# Not root. /berth/tokens exists and belongs to berth so that a named volume mounted
# there starts out writable by the init service.
RUN useradd --system --uid 10001 --create-home berth \
    && mkdir -p /berth/tokens \
    && chown berth:berth /berth/tokens
USER berth
# 8081 execution, 8082 submission, 9464 metrics (scheduler); 8084 token database;
# 8080 the dashboard; 5000 the AWS emulator (emulator target).
EXPOSE 8080 8081 8082 8084 9464 5000
CMD ["python", "-m", "scheduler"]

# docker-compose's `aws` service: the same image plus the AWS emulator (moto's server).
FROM base AS emulator
USER root
RUN python -m pip install --constraint /wheels/constraints.txt "moto[server]"
USER berth

# The default target: what deployments run.
FROM base
