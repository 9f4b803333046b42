#!/usr/bin/env python3
"""Writes the attachment fixtures of tests/preflight_messages.rs: address lists hidden in
CSV/TSV/TXT, Shift_JIS CSV, XLSX, DOCX, ODS, ODT, ZIP, nested ZIP, a PDF whose
FlateDecode content stream draws them; PDFs that cannot be read; a password-protected
ZIP; zip bombs (ratio, entry count, nesting depth, a size header that lies); copies of the
recipient files; and clean files that must pass.

Every archive is written by the small ZIP writer below (stdlib zlib only) with fixed
timestamps and a fixed ZipCrypto header, so running the script twice gives the same bytes:

    python3 tests/data/attachments/make_fixtures.py

The recipients the tests import are recipients.csv (UTF-8) and recipients-sjis.csv
(Shift_JIS/CP932). Row numbers count the header as row 1, so taro is row 2.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# The campaign's recipients. Rows 2..6.
RECIPIENTS = [
    ("山田 太郎", "taro@example.jp", "山田商店", "taro.txt"),
    ("佐藤 花子", "hanako@example.jp", "佐藤工業", "hanako.txt"),
    ("鈴木 次郎", "jiro@example.co.jp", "鈴木建設", "jiro.txt"),
    ("髙橋 三郎", "saburo@example.ne.jp", "髙橋物産", "saburo.txt"),
    ("田中 四郎", "shiro@example.or.jp", "田中商事", "shiro.txt"),
]
# Addresses that are nobody on the list: six of them are "an address list" by count.
STRANGERS = [
    "a.ito@other.example",
    "b.kato@other.example",
    "c.sato@other.example",
    "d.mori@other.example",
    "e.abe@other.example",
    "f.ono@other.example",
]

# 1980-01-01 00:00:00 in MS-DOS format: the earliest date a ZIP can hold.
DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1


def write(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def crc_byte(crc, b):
    # zlib.crc32 pre- and post-inverts; ZipCrypto's key update is the bare table step.
    return zlib.crc32(bytes([b]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


class ZipCrypto:
    """Traditional PKWARE encryption (APPNOTE 6.1), enough to write a protected entry."""

    def __init__(self, password):
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self.update(b)

    def update(self, b):
        k = self.k
        k[0] = crc_byte(k[0], b)
        k[1] = (k[1] + (k[0] & 0xFF)) & 0xFFFFFFFF
        k[1] = (k[1] * 134775813 + 1) & 0xFFFFFFFF
        k[2] = crc_byte(k[2], (k[1] >> 24) & 0xFF)

    def encrypt(self, data):
        out = bytearray()
        for p in data:
            t = (self.k[2] | 2) & 0xFFFF
            out.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self.update(p)
        return bytes(out)


def make_zip(entries):
    """entries: list of dicts with name, data and optional deflate (default True),
    password (bytes) and declared_size (a lie written into both headers)."""
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e["name"].encode("utf-8")
        data = e["data"]
        crc = zlib.crc32(data)
        if e.get("deflate", True) and data:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
            method = 8
        else:
            body = data
            method = 0
        flags = 0x800  # names are UTF-8
        if "password" in e:
            flags |= 1
            # 11 fixed "random" bytes, then the CRC's high byte as the check byte.
            header = bytes(range(11)) + bytes([(crc >> 24) & 0xFF])
            body = ZipCrypto(e["password"]).encrypt(header + body)
        size = e.get("declared_size", len(data))
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, flags, method, DOS_TIME, DOS_DATE,
            crc, len(body), size, len(name), 0,
        ) + name + body
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, DOS_TIME,
            DOS_DATE, crc, len(body), size, len(name), 0, 0, 0, 0, 0, offset,
        ) + name
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central),
        cd_offset, 0,
    )
    return bytes(out)


def csv_of(rows, eol="\r\n"):
    return eol.join(",".join(r) for r in rows) + eol


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- Office files, as the smallest set of XML parts the readers accept ---------------

def xlsx(rows):
    strings = []
    index = {}

    def si(s):
        if s not in index:
            index[s] = len(strings)
            strings.append(s)
        return index[s]

    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{chr(65 + c)}{r}" t="s"><v>{si(v)}</v></c>' for c, v in enumerate(row)
        )
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    sst = "".join(f"<si><t>{esc(s)}</t></si>" for s in strings)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    parts = [
        ("[Content_Types].xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{ct}">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/>'
         '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
         '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
         '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
         "</Types>"),
        ("_rels/.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{pkg}">'
         f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
         "</Relationships>"),
        ("xl/workbook.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{main}" xmlns:r="{rel}">'
         '<sheets><sheet name="顧客" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        ("xl/_rels/workbook.xml.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{pkg}">'
         f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
         f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
         "</Relationships>"),
        ("xl/worksheets/sheet1.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{main}">'
         f'<sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'),
        ("xl/sharedStrings.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{main}" '
         f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>'),
    ]
    return make_zip([{"name": n, "data": d.encode("utf-8")} for n, d in parts])


def docx(paragraphs):
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    body = "".join(f"<w:p><w:r><w:t>{esc(p)}</w:t></w:r></w:p>" for p in paragraphs)
    parts = [
        ("[Content_Types].xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{ct}">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/>'
         '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
         "</Types>"),
        ("_rels/.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{pkg}">'
         f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="word/document.xml"/>'
         "</Relationships>"),
        ("word/document.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{w}">'
         f"<w:body>{body}</w:body></w:document>"),
    ]
    return make_zip([{"name": n, "data": d.encode("utf-8")} for n, d in parts])


def opendocument(mimetype, body_xml):
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    manifest = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content xmlns:office="{office}" '
        f'xmlns:table="{table}" xmlns:text="{text}" office:version="1.2">'
        f"<office:body>{body_xml}</office:body></office:document-content>"
    )
    man = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="{manifest}" manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    # The mimetype entry comes first and uncompressed, as the OpenDocument spec requires.
    return make_zip([
        {"name": "mimetype", "data": mimetype.encode(), "deflate": False},
        {"name": "content.xml", "data": content.encode("utf-8")},
        {"name": "META-INF/manifest.xml", "data": man.encode("utf-8")},
    ])


def ods(rows):
    cells = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{esc(v)}</text:p></table:table-cell>'
            for v in row
        )
        + "</table:table-row>"
        for row in rows
    )
    return opendocument(
        "application/vnd.oasis.opendocument.spreadsheet",
        f'<office:spreadsheet><table:table table:name="顧客">{cells}</table:table></office:spreadsheet>',
    )


def odt(paragraphs):
    ps = "".join(f"<text:p>{esc(p)}</text:p>" for p in paragraphs)
    return opendocument(
        "application/vnd.oasis.opendocument.text", f"<office:text>{ps}</office:text>"
    )


# --- XLS: a BIFF8 workbook in an OLE compound file, the smallest calamine reads ------

def biff(typ, data):
    return struct.pack("<HH", typ, len(data)) + data


def xls(rows):
    def ustr16(text):  # XLUnicodeString, always stored as UTF-16 (flag 1)
        return struct.pack("<HB", len(text), 1) + text.encode("utf-16-le")

    def bof(dt):
        return biff(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 0x0600))

    sheet_name = "顧客"
    boundsheet_len = 4 + 8 + 2 * len(sheet_name)
    globals_ = bof(0x0005) + biff(0x0042, struct.pack("<H", 1200))
    # BoundSheet8 holds the stream offset of the sheet's BOF: after itself and EOF.
    sheet_pos = len(globals_) + boundsheet_len + 4
    globals_ += biff(0x0085, struct.pack("<IBBBB", sheet_pos, 0, 0, len(sheet_name), 1)
                     + sheet_name.encode("utf-16-le"))
    globals_ += biff(0x000A, b"")
    assert len(globals_) == sheet_pos
    ncols = max(len(r) for r in rows)
    sheet = bof(0x0010) + biff(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0))
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            sheet += biff(0x0204, struct.pack("<HHH", r, c, 15) + ustr16(v))
    sheet += biff(0x000A, b"")
    stream = globals_ + sheet
    # At least 4096 bytes, so the stream lives in normal sectors, not the mini stream.
    stream += bytes(max(0, 4096 - len(stream)))
    stream += bytes(-len(stream) % 512)
    n = len(stream) // 512

    FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    # Sector 0: FAT; sector 1: directory; sectors 2..: the Workbook stream.
    fat = [FATSECT, END] + [3 + i for i in range(n - 1)] + [END]
    fat += [FREE] * (128 - len(fat))
    header = (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + bytes(16)
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END, 0, END, 0)
              + struct.pack("<I", 0) + struct.pack("<I", FREE) * 108)
    assert len(header) == 512

    def entry(name, typ, child, start, size):
        n16 = (name.encode("utf-16-le") + b"\0\0") if name else b""
        return (n16.ljust(64, b"\0") + struct.pack("<HBB", len(n16), typ, 1)
                + struct.pack("<III", NOSTREAM, NOSTREAM, child) + bytes(16 + 4 + 16)
                + struct.pack("<III", start, size, 0))

    directory = (entry("Root Entry", 5, 1, END, 0)
                 + entry("Workbook", 2, NOSTREAM, 2, len(globals_ + sheet) if len(globals_ + sheet) >= 4096 else 4096)
                 + entry("", 0, NOSTREAM, 0, 0) * 2)
    assert len(directory) == 512
    return header + struct.pack("<128I", *fat) + directory + stream


def pdf(objects, trailer=b""):
    """A PDF 1.4 file with a correct cross-reference table: `objects` are the bodies of
    objects 1..n (object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer, xref)
    return bytes(out)


def stream(data, compress=True, extra=b""):
    if compress:
        data = zlib.compress(data, 9)
        extra = b"/Filter /FlateDecode " + extra
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def one_page_pdf(content, font=b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                 compress=True, trailer=b"", more=()):
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        font,
        stream(content, compress),
        *more,
    ], trailer)


def main():
    header = ["氏名", "メールアドレス", "会社名", "添付"]
    rec_rows = [header] + [list(r) for r in RECIPIENTS]
    recipients = csv_of(rec_rows).encode("utf-8")
    write("recipients.csv", recipients)
    write("recipient-copy.csv", recipients)
    recipients_sjis = csv_of(rec_rows).encode("cp932")
    write("recipients-sjis.csv", recipients_sjis)
    write("recipient-copy-sjis.csv", recipients_sjis)

    # Other recipients' addresses (rows 3 and 4) in every format the scanner reads.
    leak = [["氏名", "メール"], ["佐藤 花子", "hanako@example.jp"], ["鈴木 次郎", "jiro@example.co.jp"]]
    write("leak.csv", csv_of(leak).encode("utf-8"))
    write("leak-sjis.csv", csv_of(leak).encode("cp932"))
    write("leak.tsv", "".join("\t".join(r) + "\r\n" for r in leak).encode("utf-8"))
    # Excel's "Unicode text" export: UTF-16 LE with a byte-order mark, tab-separated.
    write("leak-utf16.txt", b"\xff\xfe" + "".join("\t".join(r) + "\r\n" for r in leak).encode("utf-16-le"))
    write("leak.txt", "お問い合わせ先: 佐藤様 (hanako@example.jp)、鈴木様(jiro@example.co.jp)まで。\n".encode("utf-8"))
    write("leak.xlsx", xlsx(leak))
    write("leak.xls", xls(leak))
    write("leak.docx", docx(["ご担当者一覧", "佐藤 花子 hanako@example.jp", "鈴木 次郎 jiro@example.co.jp"]))
    write("leak.ods", ods(leak))
    write("leak.odt", odt(["ご担当者一覧", "佐藤 花子 hanako@example.jp", "鈴木 次郎 jiro@example.co.jp"]))
    write("leak.zip", make_zip([
        {"name": "readme.txt", "data": "顧客一覧です。\n".encode("utf-8")},
        {"name": "list/顧客.csv", "data": csv_of(leak).encode("utf-8")},
    ]))
    write("leak-nested.zip", make_zip([
        {"name": "inner.zip", "data": make_zip([
            {"name": "顧客.csv", "data": csv_of(leak).encode("utf-8")},
        ])},
    ]))

    # Six addresses, none of them a recipient: an address list by count alone; five
    # is the allowed maximum and passes.
    many = [["名前", "メール"]] + [[a.split("@")[0], a] for a in STRANGERS]
    write("six-strangers.csv", csv_of(many).encode("utf-8"))
    write("five-strangers.csv", csv_of(many[:6]).encode("utf-8"))

    # A real PDF whose only page draws rows 3 and 4's addresses from a FlateDecode
    # content stream, one of them split by kerning as word processors write it. The
    # file's own bytes hold no address: only an inflating reader finds them.
    leak_page = (b"BT /F1 12 Tf 72 760 Td (Contacts) Tj 0 -18 Td "
                 b"[(Hanako Sato  hana)-15(ko@exam)8(ple.jp)] TJ 0 -18 Td "
                 b"(Jiro Suzuki  jiro@example.co.jp) Tj ET\n")
    leak_pdf = one_page_pdf(leak_page)
    assert b"@example" not in leak_pdf
    write("leak-compressed.pdf", leak_pdf)
    write("clean-compressed.pdf", one_page_pdf(
        b"BT /F1 12 Tf 72 760 Td (Spring sale) Tj 0 -18 Td (Questions: support@shop.test) Tj ET\n"))
    # Unreadable PDFs: encrypted (the stream is ciphertext), a damaged stream, a page
    # drawn with a composite (Type0) font, and a stream that inflates 8 MiB of zeros.
    write("encrypted.pdf", one_page_pdf(
        bytes((i * 73 + 41) % 256 for i in range(96)), compress=False,
        trailer=b"/Encrypt 6 0 R ",
        more=[b"<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>"]))
    damaged = bytearray(stream(leak_page))
    start = damaged.index(b"stream\n") + 7
    for i in range(start + 2, start + 12):
        damaged[i] ^= 0x5A
    write("damaged-compressed.pdf", pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
        bytes(damaged),
    ]))
    write("type0-font.pdf", one_page_pdf(
        b"BT /F1 12 Tf 72 760 Td <0033004400550052> Tj ET\n",
        font=b"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+MSGothic "
             b"/Encoding /Identity-H /DescendantFonts [6 0 R] >>",
        more=[b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+MSGothic >>"]))
    write("bomb.pdf", one_page_pdf(bytes(8 << 20)))
    # The same addresses drawn with a composite (Type0, Identity-H) font, as office
    # programs write Japanese PDFs: two-byte glyph codes in hex strings, turned into
    # letters only by the font's compressed ToUnicode map (glyph 0x0100 + the letter).
    def glyphs(text):
        return b"<" + "".join("%04X" % (0x100 + ord(c)) for c in text).encode() + b">"
    cid_page = (b"BT /F1 12 Tf 72 760 Td " + glyphs("Contacts") + b" Tj 0 -18 Td [" + glyphs("hanako@exa")
                + b" -20 " + glyphs("mple.jp") + b"] TJ 0 -18 Td " + glyphs("jiro@example.co.jp") + b" Tj ET\n")
    to_unicode = (b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                  b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                  b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                  b"1 beginbfrange\n<0120> <017E> <0020>\nendbfrange\n"
                  b"1 beginbfchar\n<0200> <3054>\nendbfchar\n"
                  b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
    cid_pdf = one_page_pdf(
        cid_page,
        font=b"<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+MSGothic /Encoding /Identity-H "
             b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        more=[b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+MSGothic >>", stream(to_unicode)])
    assert b"@exa" not in cid_pdf and b"hanako" not in cid_pdf
    write("leak-cid.pdf", cid_pdf)

    # Password-protected (ZipCrypto, password "secret"): the content cannot be read.
    write("encrypted.zip", make_zip([
        {"name": "顧客.csv", "data": csv_of(leak).encode("utf-8"), "password": b"secret"},
    ]))

    # A ZIP cut short (its central directory is gone): unreadable, so a warning.
    # The customer list compressed with gzip: no address is readable in the bytes.
    import gzip
    write("leak.csv.gz", gzip.compress(csv_of(leak).encode("utf-8"), mtime=0))
    write("damaged.zip", make_zip([
        {"name": "顧客.csv", "data": csv_of(leak).encode("utf-8")},
    ])[:-40])

    # Zip bombs.
    # 1. Ratio: 8 MiB of zeros in about 8 KB (over 1000-fold; the limit is 100-fold).
    write("bomb-ratio.zip", make_zip([{"name": "zeros.bin", "data": bytes(8 << 20)}]))
    # 2. Entries: 1,000 empty files (the test lowers max_entries below that).
    write("bomb-entries.zip", make_zip(
        [{"name": f"{i:04}.txt", "data": b"", "deflate": False} for i in range(1000)]
    ))
    # 3. Depth: a CSV with the other recipients' addresses inside five nested ZIPs; the
    #    default limit opens three levels, so the CSV is never reached.
    inner = make_zip([{"name": "顧客.csv", "data": csv_of(leak).encode("utf-8")}])
    for level in range(4, 0, -1):
        inner = make_zip([{"name": f"level{level}.zip", "data": inner}])
    write("bomb-deep.zip", inner)
    # 4. A lying size header: both headers say 100 bytes, the entry inflates to 8 MiB
    #    (the test lowers the byte budget to 1 MiB; the reader must stop there).
    write("bomb-lying-size.zip", make_zip(
        [{"name": "small.txt", "data": bytes(8 << 20), "declared_size": 100}]
    ))

    # Clean attachments: no recipient's address, at most a few of the sender's own.
    write("clean.txt", "ご注文ありがとうございました。\nお問い合わせは support@shop.test まで。\n".encode("utf-8"))
    write("clean.pdf", (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n"
        b"4 0 obj << /Length 44 >> stream\nBT /F1 12 Tf 72 712 Td (Spring sale) Tj ET\n"
        b"endstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    ))
    write("clean.xls", xls([["商品", "価格"], ["りんご", "120"]]))
    write("clean.xlsx", xlsx([["商品", "価格"], ["りんご", "120"], ["みかん", "80"]]))
    write("clean.docx", docx(["春のセールのご案内", "お問い合わせ: support@shop.test"]))
    write("clean.zip", make_zip([
        {"name": "catalog.txt", "data": "春のカタログ\n".encode("utf-8")},
        {"name": "prices.csv", "data": "商品,価格\r\nりんご,120\r\n".encode("utf-8")},
    ]))

    # Per-recipient attachments (the 添付 column): each holds only its own address.
    for name, email, company, file in RECIPIENTS:
        write(f"per-recipient/{file}", f"{company} {name}様 ({email}) のご請求書\n".encode("utf-8"))


if __name__ == "__main__":
    main()
