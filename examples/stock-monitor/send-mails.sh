#!/bin/sh
# send-mails.sh GROUP LIST: "mail" every address in LIST (one per line, # comments) by writing
# one file per recipient into $STOCK_DIR/outbox/GROUP/, sleeping a little per mail
# ($STOCK_MAIL_SLEEP, default 0.4 s) as a real mailer would, so that jobs overlap.
set -eu
group=$1
list=$2
outbox="${STOCK_DIR:-.}/outbox/$group"
mkdir -p "$outbox"
job=${WARDEN_JOB_ID:-manual}
# Job ids start again in every warden process: the trigger's time keeps the names apart.
trigger=$(printf '%s' "${WARDEN_TRIGGER:-now}" | tr -d ':.-')
sent=0
while IFS= read -r addr || [ -n "$addr" ]; do
  case $addr in '' | '#'*) continue ;; esac
  file="$outbox/$trigger-$job-$addr.eml"
  {
    printf 'To: %s\n' "$addr"
    printf 'Subject: Back in stock!\n'
    printf 'Date: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'X-Warden-Job: %s (trigger %s, attempt %s)\n\n' "$job" "${WARDEN_TRIGGER:-?}" "${WARDEN_ATTEMPT:-1}"
    printf 'Good news: it is back. The shop said:\n%s\n' "${WARDEN_CHECK_OUTPUT:-}"
  } >"$file.tmp"
  mv "$file.tmp" "$file"
  sent=$((sent + 1))
  sleep "${STOCK_MAIL_SLEEP:-0.4}"
done <"$list"
echo "mailed $sent $group recipients"
