"""Local users of the Airflow UI for ``make ui`` (Airflow's simple auth manager): ``admin``
(admin) and ``analyst`` (viewer), their passwords kept in one JSON file the manager reads.

``RENTAN_UI_PASSWORD`` sets admin's password (and ``RENTAN_UI_ANALYST_PASSWORD`` analyst's);
otherwise a random one is made once and kept. ``python -m rentan.web.users FILE`` writes the file
if needed and prints how to log in. For loopback development only: production deployments use a
real auth manager.
"""

import json
import os
import secrets
import sys
from pathlib import Path

USERS = {"admin": ("admin", "RENTAN_UI_PASSWORD"), "analyst": ("viewer", "RENTAN_UI_ANALYST_PASSWORD")}


def users_setting() -> str:
    """The value of ``[core] simple_auth_manager_users``."""
    return ",".join(f"{u}:{role}" for u, (role, _) in USERS.items())


def ensure(path: Path) -> dict[str, str]:
    known = json.loads(path.read_text()) if path.exists() else {}
    for user, (_, env) in USERS.items():
        if os.environ.get(env):
            known[user] = os.environ[env]
        known.setdefault(user, secrets.token_urlsafe(12))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known) + "\n")
    path.chmod(0o600)
    return known


if __name__ == "__main__":
    if sys.argv[1:2] == ["--setting"]:
        print(users_setting())
        sys.exit(0)
    target = Path(sys.argv[1])
    passwords = ensure(target)
    for user, (role, env) in USERS.items():
        print(f"   {user:<8} ({role}): password {passwords[user]}   (set {env} to choose it; kept in {target})")
