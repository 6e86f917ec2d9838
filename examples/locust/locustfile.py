"""A Locust load test of presence bots against a Skype for Business pool (docs/performance.md, "Scale out with
Locust"). Every Locust user is one sfbkit endpoint: it signs in, watches ten others, publishes its status and
pings the registrar now and then, and signs out at the end.

    sfbkit lab --users 200 --fault ntlm-only --json > lab.json        # or a real pool: see sfbkit.locust
    locust -f locustfile.py --headless -u 200 -r 20 -t 60s --sfbkit-lab lab.json
"""

from sfbkit.locust import PresenceUser

__all__ = ["PresenceUser"]
