# Production image: one image for web, worker and beat (the command differs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base DJANGO_DEBUG=false

WORKDIR /app
RUN useradd --create-home --uid 1000 app
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip && pip install .
COPY . .
# collectstatic needs settings to load; these placeholders never reach a running container.
RUN DJANGO_SECRET_KEY=build FIELD_ENCRYPTION_KEYS=q1QCJ3o6x6B9Qd1iLvQ3qg5u0Cq3w7b0w8Zf0D6yJ2E= \
    DJANGO_ALLOWED_HOSTS=build DJANGO_STATIC_ROOT=/app/static VAR_DIR=/tmp/var \
    python manage.py collectstatic --noinput && chown -R app /app
USER app
ENV DJANGO_STATIC_ROOT=/app/static VAR_DIR=/tmp/var
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
