# openreplica server image. Build and run with `docker compose up` (docker-compose.yml).
# Not built in CI: the project's CI machine has no container runtime.
FROM python:3.11-slim

# espeak-ng: the fallback TTS (Piper, the default, ships as a Python package)
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# asyncpg: the PostgreSQL driver for --database-url postgresql+asyncpg://…
RUN pip install --no-cache-dir . asyncpg

ENV OPENREPLICA_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
# Binding 0.0.0.0 needs OPENREPLICA_API_KEY (the server refuses to start without one).
CMD ["openreplica", "serve", "--host", "0.0.0.0", "--port", "8000"]
