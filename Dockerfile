# One image for every Berth process; docker-compose.yml picks the entry point per
# service with `command:` (python -m scheduler | token_database | executor_agent |
# scheduler_client | scheduler.aws provision | scheduler.healthcheck | moto.server).
# The environment is exactly Pipfile.lock's, so the AWS emulator (moto, a locked
# dependency) runs the same version the test suite runs against.

FROM python:3.11-slim AS environment
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIPENV_VENV_IN_PROJECT=1 \
    PIPENV_NOSPIN=1
WORKDIR /app
RUN python -m pip install pipenv==2026.10.3
COPY Pipfile Pipfile.lock ./
# sync installs the lock as it is (never re-locks); no --dev: tools stay out of the image.
RUN python -m pipenv sync

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH
WORKDIR /app
COPY --from=environment /app/.venv /app/.venv
COPY pb ./pb
COPY berth_common ./berth_common
COPY scheduler ./scheduler
COPY token_database ./token_database
COPY executor_agent ./executor_agent
COPY scheduler_client ./scheduler_client
COPY examples ./examples
COPY scheduler.py ./
# Bytecode now, as root: the processes (and every healthcheck) then start without compiling.
RUN python -m compileall -q pb scheduler token_database executor_agent scheduler_client examples
# Not root. /berth/tokens exists and belongs to berth so that a named volume mounted
# there starts out writable by the init service.
RUN useradd --system --uid 10001 --create-home berth \
    && mkdir -p /berth/tokens \
    && chown berth:berth /berth/tokens
USER berth
# 8081 execution, 8082 submission, 9464 metrics (scheduler); 8084 token database;
# 5000 the AWS emulator.
EXPOSE 8081 8082 8084 9464 5000
CMD ["python", "-m", "scheduler"]
