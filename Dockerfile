# One image for every process: `docker run IMAGE api | worker | scheduler | migrate | sandbox`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000

RUN useradd --create-home --uid 10001 mibo
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY setup.cfg pyproject.toml README.md ./
RUN mkdir mibo jobs schemas && touch mibo/__init__.py jobs/__init__.py schemas/__init__.py \
    && pip install . && pip uninstall -y mibo

COPY mibo ./mibo
COPY jobs ./jobs
COPY schemas ./schemas
COPY sql ./sql
COPY scripts ./scripts
COPY supervisord.conf ./
# Editable install keeps sql/migrations beside the code, where the migration runner looks.
RUN pip install --no-deps -e . && mkdir -p run && chown -R mibo:mibo /app/run

USER mibo
EXPOSE 8000
ENTRYPOINT ["mibo"]
CMD ["api"]
