#!/bin/sh
# Regenerates examples/customers.csv (Shift_JIS/CP932 with CRLF line ends, as Excel's
# "CSV" export writes it) from the UTF-8 source examples/customers.utf8.csv.
# CP932 rather than plain Shift_JIS so that NEC extension characters such as ① and
# IBM ones such as 髙 convert.
set -eu
cd "$(dirname "$0")"
sed 's/$/\r/' customers.utf8.csv | iconv -f UTF-8 -t CP932 > customers.csv
