# Production configuration of the office's service:
#     KIA_HOME=/srv/kia KIA_DATABASE_URL=postgresql+psycopg://kia@db/kia \
#         gunicorn -c gunicorn.conf.py "issuer:create_app()"
# Workers are stateless; put several machines behind a load balancer and
# share one PostgreSQL.  Terminate TLS at the load balancer or a reverse proxy.
import os

bind = os.environ.get("KIA_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("KIA_WORKERS", "2"))  # about one per core
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
max_requests = 10_000  # recycle workers now and then
max_requests_jitter = 1_000
limit_request_line = 4096
limit_request_fields = 50
accesslog = "-"
# Trust X-Forwarded-* only from the proxy in front (set to its address).
forwarded_allow_ips = os.environ.get("KIA_FORWARDED_ALLOW_IPS", "127.0.0.1")
# One folder for every worker's counters, so that /metrics adds them all up
# (PROMETHEUS_MULTIPROC_DIR, or a temporary folder); see issuer/serve.py.
from issuer.serve import child_exit, on_exit, on_starting  # noqa: E402,F401  (gunicorn reads these names)
