# Drainboard image: the same code runs web (gunicorn), worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DRAINBOARD_VAR_DIR=/var/lib/drainboard
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home /app drainboard && mkdir -p /var/lib/drainboard && chown drainboard /var/lib/drainboard
USER drainboard
# collectstatic needs settings, not secrets: build-time throwaway values only.
RUN DEBUG=true DRAINBOARD_VAR_DIR=/tmp/build python manage.py collectstatic --no-input -v 0 \
    && cp -r /tmp/build/static /var/lib/drainboard/static
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
