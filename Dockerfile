# Dispatch Digest: the package and its command, for `digest serve` in docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flows ./flows
COPY tasks ./tasks
RUN python -m pip install --upgrade pip && python -m pip install .
COPY config ./config
COPY samples ./samples
VOLUME ["/app/digests", "/app/data"]
CMD ["digest", "serve", "--config", "config/digest.toml"]
