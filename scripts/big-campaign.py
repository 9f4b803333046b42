#!/usr/bin/env python3
"""Writes a campaign of N recipients (Japanese names, a points column) into FOLDER for the
benchmarks: campaign.toml, r.csv, message.txt, an HTML template with --html, and a coupon
attachment; Outbox folder, so nothing can be sent.

    scripts/big-campaign.py FOLDER N ID [--html]
"""
import sys

folder, n, cid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
html = "--html" in sys.argv[4:]
with open(f"{folder}/r.csv", "w", encoding="utf-8") as f:
    f.write("email,氏名,ポイント\n")
    for i in range(n):
        f.write(f"user{i}@example.jp,山田 太郎{i},{i % 5000}\n")
with open(f"{folder}/message.txt", "w", encoding="utf-8") as f:
    f.write("{{ 氏名 }} 様\n\nポイント: {{ ポイント }}\n")
if html:
    with open(f"{folder}/message.html", "w", encoding="utf-8") as f:
        f.write("<p>{{ 氏名 }} 様</p><p>ポイント: {{ ポイント }}</p>\n")
with open(f"{folder}/coupon.txt", "w", encoding="utf-8") as f:
    f.write("10% off\n")
with open(f"{folder}/campaign.toml", "w", encoding="utf-8") as f:
    f.write(f"""id = "{cid}"
[sender]
name = "Shop"
address = "news@shop.example.jp"
[recipients]
file = "r.csv"
[message]
subject = "{{{{ 氏名 }}}} 様へのお知らせ"
text = "message.txt"
{'html = "message.html"' if html else ''}
attachments = ["coupon.txt"]
[unsubscribe]
mailto = "unsubscribe@shop.example.jp"
[outbox]
folder = "outbox"
""")
