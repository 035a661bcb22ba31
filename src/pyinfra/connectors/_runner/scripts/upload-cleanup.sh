# shellcheck shell=sh
# Remove the temp file of an upload that was killed before its own cleanup ran.
# $1: the destination, $2: the upload's token.
dest=$1
case "$dest" in */*) dir=${dest%/*}; dir=${dir:-/} ;; *) dir=. ;; esac
rm -f -- "$dir/.pyinfra-upload.$2".*
