# Drainboard image: the same code runs web (gunicorn), worker and beat; docker-compose.yml picks the command.
# The base image is pinned to an exact version (a tag: digests cannot be looked up offline); move it on purpose.
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DRAINBOARD_VAR_DIR=/var/lib/drainboard
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# /var/lib/drainboard-admin: where `ensure_admin` leaves the first admin's password in docker-compose.yml (a volume;
# created here so that the volume belongs to the app's user).
RUN useradd --system --home /app drainboard \
    && mkdir -p /var/lib/drainboard /var/lib/drainboard-admin \
    && chown drainboard /var/lib/drainboard /var/lib/drainboard-admin && chmod 700 /var/lib/drainboard-admin
USER drainboard
# collectstatic needs settings, not secrets: build-time throwaway values only.
RUN DEBUG=true DRAINBOARD_VAR_DIR=/tmp/build python manage.py collectstatic --no-input -v 0 \
    && cp -r /tmp/build/static /var/lib/drainboard/static
EXPOSE 8000
# gthread workers, sized by GUNICORN_WORKERS and GUNICORN_THREADS (config/gunicorn.py).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
