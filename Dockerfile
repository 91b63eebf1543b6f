# rentan on the official Airflow 3 image: the runtime lock only (requirements.lock), the same pins as
# local installs; the tests' tools (requirements-dev.lock) stay out of the image.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.lock pyproject.toml README.md /opt/rentan/
# the runtime package only: the development tools (include/rentan_dev) stay out of the image
COPY --chown=airflow:0 include/rentan /opt/rentan/include/rentan
RUN pip install --no-cache-dir --require-hashes -r /opt/rentan/requirements.lock \
 && pip install --no-cache-dir --no-deps -e /opt/rentan
