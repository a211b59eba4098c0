# billflow: one image for the worker (`python -m worker`), the API (`billflow api`) and one-shot jobs
# (`billflow db upgrade`, `billflow temporal setup`). Built by docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BILLFLOW_ENV=production

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p billflow workflows activities models starter \
    && touch billflow/__init__.py workflows/__init__.py activities/__init__.py models/__init__.py \
       starter/__init__.py worker.py \
    && pip install . \
    && pip uninstall -y billflow \
    && rm -rf billflow workflows activities models starter worker.py build *.egg-info

# The code, installed in place: migrations/ and alembic.ini stay beside the package that finds them.
COPY . .
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 billflow \
    && mkdir -p /app/.billflow && chown billflow /app/.billflow
USER billflow

# The API's port and the worker's metrics/health port.
EXPOSE 8000 9464
CMD ["python", "-m", "worker"]
