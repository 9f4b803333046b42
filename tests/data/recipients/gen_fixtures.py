#!/usr/bin/env python3
"""Writes the recipient-import fixtures whose bytes a text editor cannot be trusted with:
Shift_JIS/CP932 (with NEC and IBM extension characters), UTF-16 LE/BE with BOM, UTF-8
with BOM, NUL bytes, binaries, invalid UTF-8. Every file is encoded from the UTF-8 text
below, so the source of truth is readable. Run from anywhere:

    python3 tests/data/recipients/gen_fixtures.py

The expected results beside each fixture (*.expected) are written by the Rust tests with
MG_UPDATE_EXPECT=1 and reviewed by hand.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def lines(*rows, eol="\n"):
    return eol.join(rows) + eol


# Shift_JIS as Excel on Windows writes it (CP932): NEC row 13 (①, Ⅱ, ㈱) and the IBM
# extensions (髙, 﨑). Python's cp932 codec writes the NEC-selected IBM codes for 髙
# (0xEEE0); the last row spells 髙 with its IBM code 0xFBFC by hand, which must decode
# to the same character.
sjis_rows = [
    "氏名,メールアドレス,会社,備考",
    "山田 太郎,taro@example.jp,㈱山田商事,①会員",
    "髙橋 花子,hanako@example.jp,髙橋工業㈱,Ⅱ期",
    "山﨑 一郎,ichiro@example.co.jp,山﨑ホールディングス,③",
    "佐藤 次郎,jiro@example.ne.jp,株式会社佐藤,ご契約中",
    "鈴木 三郎,saburo@example.or.jp,鈴木建設,Ⅲ期の更新をお待ちしております",
    "田中 四郎,shiro@example.jp,田中物産,№12",
]
sjis = lines(*sjis_rows, eol="\r\n").encode("cp932")
sjis += "髙木 五郎,goro@example.jp,".encode("cp932") + b"\xfb\xfc" + "木商店,∵\r\n".encode("cp932")
write("sjis_nec_ibm.csv", sjis)

# Excel "Unicode text": UTF-16LE with BOM, tab-delimited, CRLF.
u16 = lines(
    "氏名\tメールアドレス\t会社",
    "山田 太郎\ttaro@example.jp\t㈱山田商事",
    "髙橋 花子\thanako@example.jp\t髙橋工業",
    eol="\r\n",
)
write("utf16le_tab.txt", b"\xff\xfe" + u16.encode("utf-16-le"))
write("utf16be.csv", b"\xfe\xff" + lines(
    "name,email",
    "Taro,taro@example.jp",
    "Hanako,hanako@example.jp",
).encode("utf-16-be"))

write("utf8_bom.csv", b"\xef\xbb\xbf" + lines(
    "氏名,メールアドレス",
    "山田 太郎,taro@example.jp",
    "髙橋 花子,hanako@example.jp",
    eol="\r\n",
).encode("utf-8"))

# Only a byte-order mark and a blank line: empty.
write("bom_only.csv", b"\xef\xbb\xbf\r\n")
write("empty.csv", b"")

# A PNG header and some bytes; and a zip (an .xlsx is one).
write("binary.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)))
write("workbook.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(200)))

# NUL bytes in the middle of otherwise good text (beyond what the sample would catch
# is covered by a Rust test; this one is on line 3).
write("nul_bytes.csv", b"name,email\nTaro,taro@example.jp\nHana\x00ko,hanako@example.jp\n")

# Shift_JIS text read with UTF-8 forced: the error names line 3.
write("sjis_forced_utf8.csv", lines(
    "name,email",
    "Taro,taro@example.jp",
    "山田,yamada@example.jp",
).encode("cp932"))

# Random high bytes with no NUL: no text encoding explains them.
import random
rnd = random.Random(7)
write("garbage.bin", bytes(rnd.choice(list(range(1, 32)) + list(range(127, 256))) for _ in range(3000)))
