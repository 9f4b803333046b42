"""Runs checkdmarc (the independent oracle of tests/dmarc_oracle.rs) on test-zone domains
and prints, as one JSON object keyed by domain, the verdicts MergeGuard also gives.

    dmarc_oracle.py IP:PORT domain...

Only the DNS server given is asked (plain DNS on its port); nothing else is contacted.
"""

import json
import sys

import dns.nameserver
from checkdmarc.dmarc import check_dmarc
from checkdmarc.spf import check_spf


def spf_verdicts(result):
    parsed = result.get("parsed") or {}
    warnings = result.get("warnings") or []
    return {
        # checkdmarc fills `record` only when exactly one v=spf1 record was found.
        "one_record": result.get("record") is not None,
        "valid": bool(result.get("valid")),
        "lookups": result.get("dns_lookups"),
        "void_lookups": result.get("void_dns_lookups"),
        # The qualifier of the all that decides, after redirect= (None: no record).
        "all": parsed.get("all"),
        "ptr": any("ptr mechanism" in w for w in warnings),
        "error": result.get("error"),
    }


def dmarc_verdicts(result):
    tags = result.get("tags") or {}
    warnings = result.get("warnings") or []
    return {
        "found": result.get("record") is not None,
        "valid": bool(result.get("valid")),
        "p": (tags.get("p") or {}).get("value"),
        "rua_unauthorised": any("does not indicate that it accepts" in w for w in warnings),
        "error": result.get("error"),
        "warnings": warnings,
    }


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]
    out = {}
    for domain in sys.argv[2:]:
        out[domain] = {
            "spf": spf_verdicts(check_spf(domain, nameservers=nameservers, timeout=2.0)),
            "dmarc": dmarc_verdicts(check_dmarc(domain, nameservers=nameservers, timeout=2.0)),
        }
    json.dump(out, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
